import type { Entry, Snapshot } from '../entry.js';

/** What both sides looked like right after a path was last synced: the "last agreed state". */
export interface BaselineRecord {
  local: Entry;
  remote: Entry;
}
export type Baseline = Map<string, BaselineRecord>;

/** One change to make at a destination. `entry` is always the local entry it brings about. */
export type Op =
  | { kind: 'mkdir'; path: string; entry: Entry }
  | { kind: 'write'; path: string; entry: Entry }
  | { kind: 'symlink'; path: string; entry: Entry }
  | { kind: 'meta'; path: string; entry: Entry }
  /** `expect` is what should be there; the daemon keeps anything else as a conflict copy. */
  | { kind: 'delete'; path: string; expect: Entry }
  | { kind: 'rename'; from: string; path: string; entry: Entry };

export interface PushPlanInput {
  local: Snapshot;
  /** The destination as scanned; in live mode, the remote side of the baseline. */
  remote: Snapshot;
  baseline: Baseline;
  /** Limit the plan to these paths (live mode); default: every path of either side. */
  paths?: Iterable<string>;
  /** Delete files that exist only at the destination and were never synced by us. */
  deleteExtraneous: boolean;
  /** Hash files when size and mtime leave doubt, instead of sending them. */
  verifyContent: boolean;
  /** Content hashes fetched for the paths a previous call listed in `needHashes`. */
  hashes?: { local: Map<string, string | null>; remote: Map<string, string | null> };
  /**
   * Paths whose local state could not be read (inside an unreadable folder, too long): nothing is
   * planned for them, so what the destination holds there is neither deleted nor replaced.
   */
  isUnknown?: (path: string) => boolean;
}

export interface PushPlan {
  /** In the order they must be applied. */
  ops: Op[];
  /** Paths whose content must be hashed on both sides before they can be planned. */
  needHashes: string[];
  /** Entries the plan deletes at the destination, for the delete guard. */
  deleteCount: number;
  /** Paths already equal on both sides: their baseline is refreshed without sending anything. */
  agreed: [string, BaselineRecord][];
  /** Paths gone from both sides: their baseline is dropped. */
  forgotten: string[];
}
