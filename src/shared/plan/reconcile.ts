/**
 * The sync core: for every path, its local state, its destination state and the last state both
 * agreed on, in the path's mode, give the operations for each side and any conflict. Pure:
 * snapshots in, ordered operations out; no fs, no sockets, no clock (see test/shared/plan).
 */
import { isInside } from '../entry.js';
import { decide } from './decide.js';
import { applyRenames, findRenames, type Rename } from './renames.js';
import type { BaselineRecord, Conflict, GuardTrip, Op, Plan, PlanInput, Side } from './types.js';

const depth = (path: string): number => path.split('/').length;

/** Moves first, then deletes deepest first, then folders shallowest first, then content, then folder times last. */
function getOpRank(op: Op): number {
  switch (op.kind) {
    case 'rename':
      return 0;
    case 'delete':
      return 1;
    case 'mkdir':
      return 2;
    case 'write':
    case 'symlink':
      return 3;
    case 'meta':
      return op.entry.kind === 'dir' ? 5 : 4;
  }
}

function compareOps(a: Op, b: Op): number {
  const rank = getOpRank(a) - getOpRank(b);
  if (rank !== 0) return rank;
  if (a.kind === 'delete' || (a.kind === 'meta' && a.entry.kind === 'dir')) return depth(b.path) - depth(a.path);
  return depth(a.path) - depth(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** Moves on either side, each only where that side's changes may travel. */
function getRenames(paths: string[], input: PlanInput): Rename[] {
  const snapshots = { local: input.local, remote: input.remote };
  const travels = (from: Side) => (path: string) => {
    const mode = input.getMode(path, input[from].get(path)?.kind === 'dir' || input.baseline.get(path)?.[from].kind === 'dir');
    return mode === 'bidirectional' || mode === (from === 'local' ? 'push' : 'pull');
  };
  const local = findRenames(paths, 'local', snapshots, input.baseline, travels('local'));
  const remote = findRenames(paths, 'remote', snapshots, input.baseline, travels('remote'));
  // A path moved on both sides is left to the per-path decisions (the moves cannot both happen).
  const clash = (r: Rename, others: Rename[]) => others.some((o) => o.from === r.from || o.to === r.to);
  return [...local.filter((r) => !clash(r, remote)), ...remote.filter((r) => !clash(r, local))];
}

/** More than `deleteGuard` of a side deleted by one plan (and at least `floor` entries). */
function getGuardTrip(deletes: Record<Side, number>, input: PlanInput, floor: number): GuardTrip | null {
  if (input.force) return null;
  for (const side of ['remote', 'local'] as const) {
    const count = deletes[side];
    const total = Math.max(input[side].size, 1);
    if (count > 0 && count >= floor && count / total > input.deleteGuard) return { side, count, total };
  }
  return null;
}

/**
 * `guardFloor`: the fewest deletions the delete guard looks at. A catch-up counts every one; a live
 * batch deleting a file or two of a small project is an edit, not a wipe-out.
 */
export function reconcile(input: PlanInput, guardFloor = 1): Plan {
  const paths = input.paths
    ? [...new Set(input.paths)]
    : [...new Set([...input.local.keys(), ...input.remote.keys(), ...input.baseline.keys()])];
  const renames = getRenames(paths, input);
  const { snapshots, baseline } =
    renames.length > 0
      ? applyRenames(renames, { local: input.local, remote: input.remote }, input.baseline)
      : { snapshots: input, baseline: input.baseline };
  if (renames.length > 0) {
    // What a moved folder carried along must be planned at its new place too (a file deleted
    // before the move is still there, under the new name).
    const known = new Set(paths);
    for (const path of [...snapshots.local.keys(), ...snapshots.remote.keys(), ...baseline.keys()]) {
      if (!known.has(path) && renames.some((r) => isInside(path, r.to))) {
        known.add(path);
        paths.push(path);
      }
    }
  }

  const ops: Op[] = renames.map((r) => ({
    kind: 'rename',
    side: r.side === 'local' ? 'remote' : 'local',
    from: r.from,
    path: r.to,
    entry: r.entry,
  }));
  const needHashes: string[] = [];
  const agreed: [string, BaselineRecord][] = [];
  const unchanged: string[] = [];
  const forgotten: string[] = [];
  const conflicts: Conflict[] = [];
  for (const path of paths) {
    if (input.isUnknown?.(path)) continue;
    const local = snapshots.local.get(path);
    const remote = snapshots.remote.get(path);
    const base = baseline.get(path);
    const isDir = (local ?? remote ?? base?.local)?.kind === 'dir';
    const decision = decide(
      { local, remote, base },
      {
        mode: input.getMode(path, isDir),
        policy: input.getPolicy(path),
        deleteExtraneous: input.deleteExtraneous,
        verifyContent: input.verifyContent,
        localHash: input.hashes?.local.get(path),
        remoteHash: input.hashes?.remote.get(path),
        hosts: input.hosts,
        now: input.now,
      },
    );
    if (decision === 'hash') {
      needHashes.push(path);
      continue;
    }
    if (decision.conflict) conflicts.push(decision.conflict);
    if (decision.ops.length > 0) ops.push(...decision.ops);
    else if (decision.conflict) continue;
    else if (local && remote && base?.local === local && base.remote === remote) unchanged.push(path);
    else if (local && remote) agreed.push([path, { local, remote }]);
    else if (!local && !remote) forgotten.push(path);
  }
  ops.sort(compareOps);
  const deletes = { local: 0, remote: 0 };
  for (const op of ops) if (op.kind === 'delete') deletes[op.side] += 1;
  return { ops, needHashes, deletes, guardTrip: getGuardTrip(deletes, input, guardFloor), agreed, unchanged, forgotten, conflicts };
}
