import type { ConflictPolicy, SyncMode } from '../../shared/sync-mode.js';

/** Where a destination lives. `host` is absent for a local destination (a folder on this machine). */
export interface DestinationSpec {
  /** Stable key of the destination within its project, e.g. `devbox:~/src/web` or `/mnt/efs/web`. */
  id: string;
  host?: {
    /** As written by the user; resolved through ~/.ssh/config when connecting. */
    hostname: string;
    username?: string;
    port?: number;
  };
  /** The opt-in TCP transport (a daemon listening on ws:// or wss://) instead of SSH. */
  tcp?: {
    url: string;
    /** Absolute path of the file holding the daemon's token. */
    tokenFile: string;
    /** Absolute path of a PEM CA certificate for wss://. */
    ca?: string;
  };
  /** Absolute path, or starting with `~` (the remote user's home) for SSH destinations. */
  location: string;
  mode: SyncMode;
}

export interface SyncRule {
  pattern: string;
  mode: SyncMode;
}

/** A project's configuration after discovery, validation and merging of every layer. */
export interface ProjectConfig {
  /** Display name. */
  name: string;
  /** Absolute path of the folder holding the project file. */
  root: string;
  /** Absolute path of the file the project was read from. */
  configPath: string;
  destinations: DestinationSpec[];
  mode: SyncMode;
  /** gitignore-syntax patterns, global defaults first, then the project's. */
  excludes: string[];
  /** Files of gitignore patterns, relative to the root. */
  excludesFile: string[];
  rules: SyncRule[];
  conflictPolicy: ConflictPolicy;
  deleteGuard: number;
  /** Versions kept of files replaced or deleted by a change from elsewhere, on each side. */
  history: { versions: number; days: number };
}

export interface GlobalProject {
  alias: string;
  path: string;
  active: boolean;
}

export interface GlobalConfig {
  /** Absolute path of the global file (it may not exist yet). */
  path: string;
  projects: GlobalProject[];
  /** Defaults for every project; same fields as a project file, all optional. */
  defaults: Partial<Pick<ProjectConfig, 'mode' | 'excludes' | 'excludesFile' | 'conflictPolicy' | 'deleteGuard' | 'rules' | 'history'>>;
}

/** Settings given on the command line; they win over every file. */
export interface ConfigOverrides {
  mode?: SyncMode;
  excludes?: string[];
  deleteGuard?: number;
  destinations?: string[];
}
