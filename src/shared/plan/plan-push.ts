/**
 * The push planner: what to send, delete or move so the destination follows the local folder.
 * Pure: snapshots in, ordered operations out; no fs, no sockets (see test/shared/plan).
 */
import { isInside } from '../entry.js';
import { decidePush } from './decide-push.js';
import { applyRenames, findRenames } from './renames.js';
import type { BaselineRecord, Op, PushPlan, PushPlanInput } from './types.js';

const depth = (path: string): number => path.split('/').length;

/** Deletes deepest first, then folders shallowest first, then content, then folder times last. */
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

export function getPushPlan(input: PushPlanInput): PushPlan {
  const paths = input.paths
    ? [...new Set(input.paths)]
    : [...new Set([...input.local.keys(), ...input.remote.keys(), ...input.baseline.keys()])];
  const renames = findRenames(paths, input.local, input.remote, input.baseline);
  const { remote, baseline } = renames.length > 0 ? applyRenames(renames, input.remote, input.baseline) : input;
  if (renames.length > 0) {
    // What a moved folder carried along must be planned at its new place too (a file deleted
    // before the move is still there, under the new name).
    const known = new Set(paths);
    for (const path of [...remote.keys(), ...baseline.keys()]) {
      if (!known.has(path) && renames.some((r) => isInside(path, r.to))) {
        known.add(path);
        paths.push(path);
      }
    }
  }

  const ops: Op[] = renames.map((r) => ({ kind: 'rename', from: r.from, path: r.to, entry: r.entry }));
  const needHashes: string[] = [];
  const agreed: [string, BaselineRecord][] = [];
  const forgotten: string[] = [];
  for (const path of paths) {
    if (input.isUnknown?.(path)) continue;
    const local = input.local.get(path);
    const there = remote.get(path);
    const decision = decidePush(
      { local, remote: there, base: baseline.get(path) },
      {
        deleteExtraneous: input.deleteExtraneous,
        verifyContent: input.verifyContent,
        localHash: input.hashes?.local.get(path),
        remoteHash: input.hashes?.remote.get(path),
      },
    );
    if (decision === 'hash') needHashes.push(path);
    else if (decision.length > 0) ops.push(...decision);
    else if (local && there) agreed.push([path, { local, remote: there }]);
    else if (!local && !there) forgotten.push(path);
  }
  ops.sort(compareOps);
  return { ops, needHashes, deleteCount: ops.filter((op) => op.kind === 'delete').length, agreed, forgotten };
}
