/**
 * The decision for one path, as a pure function of its three states: local (L), remote (R) and the
 * last agreed baseline (B), in one of the three modes. One-way modes make the target follow the
 * source; bidirectional looks at what changed on each side since B, and settles a change on both
 * sides by the conflict policy. Nothing here compares clocks to find a change; `newest` and
 * keep-both use mtimes only to choose the winner of a conflict already found.
 */
import { getConflictPath } from '../conflict-name.js';
import { hasCoarseMtime, hasSameMtime, isSameStat, type Entry } from '../entry.js';
import type { ConflictPolicy, SyncMode } from '../sync-mode.js';
import { getOtherSide, type BaselineRecord, type Conflict, type Guard, type IfChanged, type Op, type Side } from './types.js';

export interface PathStates {
  local: Entry | undefined;
  remote: Entry | undefined;
  base: BaselineRecord | undefined;
}

export interface DecideOptions {
  mode: SyncMode;
  policy: ConflictPolicy;
  deleteExtraneous: boolean;
  verifyContent: boolean;
  localHash?: string | null | undefined;
  remoteHash?: string | null | undefined;
  hosts: Record<Side, string>;
  now: Date;
}

/** `'hash'` means: cannot tell without comparing content hashes. */
export type Decision = { ops: Op[]; conflict?: Conflict } | 'hash';

const NONE: Decision = { ops: [] };

function getEntryOf(states: PathStates, side: Side): Entry | undefined {
  return side === 'local' ? states.local : states.remote;
}

/** A change from `source` to `target` of one path, with what the target must still hold. */
interface Move {
  from: Side;
  to: Side;
  source: Entry | undefined;
  target: Entry | undefined;
  base: BaselineRecord | undefined;
  ifChanged: IfChanged;
  /** Set for the loser of a keep-both conflict: its version is kept under this name. */
  keepAs?: string;
}

/**
 * What the target must hold for the change to go ahead. One-way: what we last left there (anything
 * else was changed there, and is kept as a conflict copy); two-way: what the plan saw there.
 */
function getGuard(move: Move): Guard {
  const expect = move.ifChanged === 'keep' && move.base ? move.base[move.to] : (move.target ?? null);
  return { expect, ifChanged: move.ifChanged };
}

/** A new folder also gets its times set once its content is in (see getOpRank in reconcile.ts). */
function getCreateOps(move: Move, source: Entry): Op[] {
  if (source.kind !== 'dir') return [getContentOp(move, source)];
  return [getContentOp(move, source), { kind: 'meta', side: move.to, path: source.path, entry: source }];
}

function getContentOp(move: Move, source: Entry): Op {
  const side = move.to;
  const path = source.path;
  if (source.kind === 'dir') return { kind: 'mkdir', side, path, entry: source };
  const keepAs = move.keepAs === undefined ? {} : { keepAs: move.keepAs };
  if (source.kind === 'symlink') return { kind: 'symlink', side, path, entry: source, guard: getGuard(move), ...keepAs };
  return { kind: 'write', side, path, entry: source, guard: getGuard(move), ...keepAs };
}

function getDeleteOp(move: Move, target: Entry): Op {
  const guard = getGuard(move);
  return { kind: 'delete', side: move.to, path: target.path, guard: { expect: guard.expect ?? target, ifChanged: move.ifChanged } };
}

/** Same content for sure ('hash': only hashes can tell). Folders always are; links by their target. */
function isSameContent(a: Entry, b: Entry, options: DecideOptions): boolean | 'hash' {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'dir') return true;
  if (a.kind === 'symlink') return a.target === b.target;
  if (a.size !== b.size) return false;
  // Nanosecond mtimes that agree mean the same content; whole-second ones prove nothing
  // (rsync's quick check misses a same-size edit within the same second).
  if (hasSameMtime(a, b) && !(hasCoarseMtime(a) && hasCoarseMtime(b))) return true;
  if (!options.verifyContent) return false;
  if (options.localHash === undefined || options.remoteHash === undefined) return 'hash';
  return options.localHash !== null && options.localHash === options.remoteHash;
}

/**
 * Two edits made independently: equal size and mtime prove nothing (mtimes tick by the kernel's
 * jiffy, so two saves of one size at the same moment carry the same time). Files of one size are
 * told apart by their hashes only.
 */
function isSameEdit(local: Entry, remote: Entry, options: DecideOptions): boolean | 'hash' {
  if (local.kind !== 'file' || remote.kind !== 'file' || local.size !== remote.size) return isSameContent(local, remote, options);
  if (!options.verifyContent) return false;
  if (options.localHash === undefined || options.remoteHash === undefined) return 'hash';
  return options.localHash !== null && options.localHash === options.remoteHash;
}

/** Both sides hold the same thing; only folder times, link times or modes may differ. */
function getMetaOps(move: Move, source: Entry, target: Entry): Op[] {
  const meta: Op = { kind: 'meta', side: move.to, path: source.path, entry: source };
  if (source.kind === 'file') return source.mode !== target.mode ? [meta] : [];
  if (source.kind === 'dir') return source.mode !== target.mode || !hasSameMtime(source, target) ? [meta] : [];
  return hasSameMtime(source, target) ? [] : [meta];
}

function decideSameKind(move: Move, source: Entry, target: Entry, options: DecideOptions): Decision {
  // One-way, a target with the source's size and mtime is our copy (we set its mtime). Two-way, a
  // side that changed may have changed to the other's size and a time of the same kernel tick
  // without being a copy of it: only content can tell.
  const same = move.ifChanged === 'refuse' ? isSameEdit(source, target, options) : isSameContent(source, target, options);
  if (same === 'hash') return 'hash';
  if (!same) return { ops: [getContentOp(move, source)] };
  // Equal content with other times: only the times move (a file hashed equal gets its mode too).
  if (source.kind === 'file' && !hasSameMtime(source, target)) {
    return { ops: [{ kind: 'meta', side: move.to, path: source.path, entry: source }] };
  }
  return { ops: getMetaOps(move, source, target) };
}

/** The target follows the source, whatever the target did since B. */
function decideOneWay(move: Move, options: DecideOptions): Decision {
  const { source, target, base } = move;
  if (source && target) {
    if (base && isSameStat(source, base[move.from]) && isSameStat(target, base[move.to])) return NONE;
    if (source.kind !== target.kind) return { ops: [getDeleteOp(move, target), ...getCreateOps({ ...move, target: undefined }, source)] };
    return decideSameKind(move, source, target, options);
  }
  if (source) return { ops: getCreateOps(move, source) };
  // Gone at the source: deleted at the target only if we put it there (or were asked to).
  if (target && (base || options.deleteExtraneous)) return { ops: [getDeleteOp(move, target)] };
  return NONE;
}

/** Changed since B; with no B, anything present is new. */
function hasChanged(now: Entry | undefined, before: Entry | undefined): boolean {
  if (!before) return now !== undefined;
  return !now || !isSameStat(now, before);
}

function getMove(states: PathStates, from: Side, ifChanged: IfChanged): Move {
  const to = getOtherSide(from);
  return { from, to, source: getEntryOf(states, from), target: getEntryOf(states, to), base: states.base, ifChanged };
}

function isNewer(a: Entry, b: Entry): boolean {
  return BigInt(a.mtimeNs) > BigInt(b.mtimeNs);
}

/** The side whose version stays, by policy. A folder is never given up for a file or a link. */
function getWinner(local: Entry, remote: Entry, policy: ConflictPolicy): Side {
  if (local.kind === 'dir' && remote.kind !== 'dir') return 'local';
  if (remote.kind === 'dir' && local.kind !== 'dir') return 'remote';
  if (policy === 'local' || policy === 'remote') return policy;
  return isNewer(remote, local) ? 'remote' : 'local';
}

/** Both sides changed the path differently since B. */
function decideConflict(states: PathStates, local: Entry, remote: Entry, options: DecideOptions): Decision {
  const { policy } = options;
  if (policy === 'manual') {
    return { ops: [], conflict: { path: local.path, local, remote, policy, winner: null } };
  }
  const winner = getWinner(local, remote, policy);
  const loser = getOtherSide(winner);
  const move = getMove(states, winner, 'refuse');
  const conflict: Conflict = { path: local.path, local, remote, policy, winner };
  const lost = loser === 'local' ? local : remote;
  // keep-both keeps the loser beside the winner; the other policies replace it, and the side that
  // replaces it keeps it in its version history (every overwrite does).
  if (policy === 'keep-both' && lost.kind !== 'dir') {
    const keptAs = getConflictPath(lost.path, options.hosts[loser], options.now);
    conflict.keptAs = keptAs;
    const winning = getEntryOf(states, winner)!;
    if (winning.kind === lost.kind) return { ops: [getContentOp({ ...move, keepAs: keptAs }, winning)], conflict };
    // A link against a file: the loser moves aside first, then the winner takes its place.
    const aside: Op = { kind: 'rename', side: loser, from: lost.path, path: keptAs, entry: lost };
    return { ops: [aside, ...getCreateOps({ ...move, target: undefined }, winning)], conflict };
  }
  const decision = decideOneWay(move, options);
  return decision === 'hash' ? decision : { ops: decision.ops, conflict };
}

function decideTwoWay(states: PathStates, options: DecideOptions): Decision {
  const { local, remote, base } = states;
  const localChanged = hasChanged(local, base?.local);
  const remoteChanged = hasChanged(remote, base?.remote);
  if (!localChanged && !remoteChanged) return NONE;
  if (localChanged && !remoteChanged) return decideOneWay(getMove(states, 'local', 'refuse'), options);
  if (remoteChanged && !localChanged) return decideOneWay(getMove(states, 'remote', 'refuse'), options);
  // Changed on both sides. A deletion against a change: the change is kept.
  if (!local && !remote) return NONE;
  if (!local) return decideOneWay(getMove(states, 'remote', 'refuse'), options);
  if (!remote) return decideOneWay(getMove(states, 'local', 'refuse'), options);
  const same = isSameEdit(local, remote, options);
  if (same === 'hash') return 'hash';
  if (same) {
    // The same change on both sides (a `git pull` on each): only times and modes may differ; the
    // newer side's are kept.
    const from: Side = isNewer(remote, local) ? 'remote' : 'local';
    const move = getMove(states, from, 'refuse');
    const [source, target] = [move.source!, move.target!];
    if (source.kind === 'file' && !hasSameMtime(source, target))
      return { ops: [{ kind: 'meta', side: move.to, path: source.path, entry: source }] };
    return { ops: getMetaOps(move, source, target) };
  }
  return decideConflict(states, local, remote, options);
}

export function decide(states: PathStates, options: DecideOptions): Decision {
  switch (options.mode) {
    case 'push':
      return decideOneWay(getMove(states, 'local', 'keep'), options);
    case 'pull':
      return decideOneWay(getMove(states, 'remote', 'keep'), options);
    case 'bidirectional':
      return decideTwoWay(states, options);
  }
}
