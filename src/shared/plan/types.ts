import type { Entry, Snapshot } from '../entry.js';
import type { ConflictPolicy, SyncMode } from '../sync-mode.js';

/** The two sides of one sync: the project folder, and one destination. */
export type Side = 'local' | 'remote';

export function getOtherSide(side: Side): Side {
  return side === 'local' ? 'remote' : 'local';
}

/** What both sides looked like right after a path was last synced: the "last agreed state". */
export interface BaselineRecord {
  local: Entry;
  remote: Entry;
}
export type Baseline = Map<string, BaselineRecord>;

/**
 * What to do when the target no longer holds what the plan expected there. `refuse`: change nothing
 * and say what is there now, so the path is planned again (two-way, where the change may be a
 * conflict). `keep`: keep what is there as a conflict copy and go on (one-way: the target follows).
 */
export type IfChanged = 'refuse' | 'keep';

/** The precondition of an operation that replaces or removes what is at its path. */
export interface Guard {
  /** What the plan believes is at the target; null: nothing. */
  expect: Entry | null;
  ifChanged: IfChanged;
}

/**
 * One change to make on one side (`side` is the side changed). `entry` is the entry of the other
 * side that the change brings about (its content is read there).
 */
export type Op =
  | { kind: 'mkdir'; side: Side; path: string; entry: Entry }
  /** `keepAs`: what is there now is kept under this name (the loser of a keep-both conflict). */
  | { kind: 'write'; side: Side; path: string; entry: Entry; guard?: Guard; keepAs?: string }
  | { kind: 'symlink'; side: Side; path: string; entry: Entry; guard?: Guard; keepAs?: string }
  | { kind: 'meta'; side: Side; path: string; entry: Entry }
  | { kind: 'delete'; side: Side; path: string; guard: Guard & { expect: Entry } }
  | { kind: 'rename'; side: Side; from: string; path: string; entry: Entry };

/** A path changed on both sides since they last agreed, and how the policy settled it. */
export interface Conflict {
  path: string;
  local: Entry | null;
  remote: Entry | null;
  policy: ConflictPolicy;
  /** The side whose version stays at the path; null for `manual` (nothing changed on either side). */
  winner: Side | null;
  /** Where the loser's version is kept as a conflict copy (keep-both), relative to the root. */
  keptAs?: string;
}

/** The delete guard's verdict: this batch would delete more than `deleteGuard` of a side. */
export interface GuardTrip {
  side: Side;
  count: number;
  total: number;
}

export interface Hashes {
  local: Map<string, string | null>;
  remote: Map<string, string | null>;
}

export interface PlanInput {
  local: Snapshot;
  /** The destination as scanned, kept current from its change notices and acknowledgements. */
  remote: Snapshot;
  baseline: Baseline;
  /** Limit the plan to these paths (live mode); default: every path of either side. */
  paths?: Iterable<string>;
  /** The mode of each path: the destination's, or the last rule that matches it. */
  getMode: (path: string, isDir: boolean) => SyncMode;
  /** The policy for a conflict at each path (a `resolve` overrides the configured one). */
  getPolicy: (path: string) => ConflictPolicy;
  /** One-way only: delete what exists only at the target and was never synced by us. */
  deleteExtraneous: boolean;
  /** Hash files when size and mtime leave doubt, instead of sending them. */
  verifyContent: boolean;
  /** Content hashes fetched for the paths a previous call listed in `needHashes`. */
  hashes?: Hashes;
  /**
   * Paths whose local state could not be read (inside an unreadable folder, too long): nothing is
   * planned for them, so what the destination holds there is neither deleted nor replaced.
   */
  isUnknown?: (path: string) => boolean;
  /** Names conflict copies: the host of each side, and the time of the plan. */
  hosts: Record<Side, string>;
  now: Date;
  /** Share of a side's entries a single plan may delete (0–1), and whether the user said --force. */
  deleteGuard: number;
  force: boolean;
}

export interface Plan {
  /** In the order they must be applied. */
  ops: Op[];
  /** Paths whose content must be hashed on both sides before they can be planned. */
  needHashes: string[];
  /** Entries the plan deletes on each side, for the delete guard. */
  deletes: Record<Side, number>;
  /** Set when the plan deletes more of a side than the delete guard allows: apply none of it. */
  guardTrip: GuardTrip | null;
  /** Paths already equal on both sides: their baseline is refreshed without sending anything. */
  agreed: [string, BaselineRecord][];
  /**
   * Paths whose baseline record holds the very entries both sides hold now (the same objects):
   * nothing to send and nothing to record, so a large unchanged tree costs no new records.
   */
  unchanged: string[];
  /** Paths gone from both sides: their baseline is dropped. */
  forgotten: string[];
  conflicts: Conflict[];
}
