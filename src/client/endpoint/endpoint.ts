import type { Entry, Snapshot } from '../../shared/entry.js';
import type { Op } from '../../shared/plan/types.js';
import type { OpResult } from '../../shared/tree/destination-root.js';

/** What an operation left at its side: the same shape whichever side applied it. */
export type { OpResult };

/** Thrown by `apply` when the source file changed while it was being read; it will be sent again. */
export class SourceChangedError extends Error {
  override name = 'SourceChangedError';
}

/** A version kept in a side's history (src/shared/tree/history.ts). */
export interface VersionInfo {
  number: number;
  path: string;
  date: Date;
  size: number;
  mtimeNs: string;
}

/** What changed at a watched destination: entries as they are now, and paths that are gone. */
export type ChangeListener = (entries: readonly Entry[], gone: readonly string[]) => void;

/** What a destination can keep and do, as it says at the handshake. */
export interface Capabilities {
  /** It reports changes made there (needed to bring them back live; otherwise at each catch-up). */
  watch: boolean;
  symlinks: boolean;
  modes: boolean;
  renames: boolean;
  /** Large files can be sent as a delta against the version there (delta.ts). */
  delta?: boolean;
}

/** Where an operation's content is read: the other side of the sync. */
export interface ContentSource {
  /** A folder on this machine that holds the content, when there is one: read from it directly. */
  readonly localRoot?: string;
  /** Streams the content of a file that is still `entry`; `sink` is awaited for every piece. */
  read(entry: Entry, sink: (chunk: Buffer) => Promise<void>): Promise<void>;
}

/**
 * One side of a sync, whatever it is: its content can be hashed and read, and an operation applied
 * to it with content read from the other side. The project folder (sync/project-side.ts) and every
 * destination (the daemon connection) are both one.
 */
export interface SyncSide extends ContentSource {
  hash(paths: readonly string[]): Promise<Map<string, string | null>>;
  /** Applies one operation, reading its content from `from`; resolves once it is done there. */
  apply(op: Op, from: ContentSource): Promise<OpResult>;
}

/**
 * The far side: a side that can also be scanned, watched and closed. The daemon connection
 * implements it for remote and local destinations alike, so the sync core does not care which it
 * talks to. A later store without inodes, modes or links would implement it too and say so in
 * `capabilities`.
 */
export interface Endpoint extends SyncSide {
  readonly description: string;
  readonly capabilities: Capabilities;
  /** The host name of the far side, for the names of conflict copies made of its versions. */
  readonly host: string;
  /** `watch`: from now on, report changes made there to `onChanges` listeners. */
  scan(watch: boolean): Promise<Snapshot>;
  /**
   * Starts the scan the first catch-up will ask for, so that both sides walk their trees at once;
   * not for a watching scan (see DaemonConnection).
   */
  prefetchScan(watch: boolean): void;
  versions(path: string): Promise<VersionInfo[]>;
  onChanges(listener: ChangeListener): void;
  /** Resolves once everything sent so far has been handed to the transport. */
  close(): Promise<void>;
  onClose(listener: (reason: string) => void): void;
}
