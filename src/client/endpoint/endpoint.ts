import type { Entry, Snapshot } from '../../shared/entry.js';
import type { Op } from '../../shared/plan/types.js';

export interface OpResult {
  /** The side's entry after the change; null when the path is gone. */
  entry: Entry | null;
  note?: string;
  /** For writes made in the project: the content's hash (TreeIndex.noteApplied). */
  hash?: string;
}

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

/**
 * The far side of a sync: something that can be scanned, watched, read and changed. The daemon
 * connection implements it for remote and local destinations alike, so the sync core does not care
 * which it talks to; the project folder is the other side (local-tree.ts). A later store without
 * inodes, modes or links would implement it too and say so in `capabilities`.
 */
/** What a destination can keep and do, as it says at the handshake. */
export interface Capabilities {
  /** It reports changes made there (needed to bring them back live; otherwise at each catch-up). */
  watch: boolean;
  symlinks: boolean;
  modes: boolean;
  renames: boolean;
}

export interface Endpoint {
  readonly description: string;
  readonly capabilities: Capabilities;
  /** The host name of the far side, for the names of conflict copies made of its versions. */
  readonly host: string;
  /** `watch`: from now on, report changes made there to `onChanges` listeners. */
  scan(watch: boolean): Promise<Snapshot>;
  hash(paths: readonly string[]): Promise<Map<string, string | null>>;
  /** Streams the content of a file that is still `entry`; `sink` is awaited for every piece. */
  read(entry: Entry, sink: (chunk: Buffer) => Promise<void>): Promise<void>;
  /** Applies one operation, reading file content from `localRoot`; resolves once acknowledged. */
  apply(op: Op, localRoot: string): Promise<OpResult>;
  versions(path: string): Promise<VersionInfo[]>;
  onChanges(listener: ChangeListener): void;
  /** Resolves once everything sent so far has been handed to the transport. */
  close(): Promise<void>;
  onClose(listener: (reason: string) => void): void;
}
