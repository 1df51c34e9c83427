/**
 * The three-way core in push mode, in the shape the push planner's cases were written in: every op
 * changes the destination, and a delete carries its guard's `expect`.
 */
import type { Entry, Snapshot } from '../../src/shared/entry.js';
import { reconcile } from '../../src/shared/plan/reconcile.js';
import type { Baseline, BaselineRecord, Hashes } from '../../src/shared/plan/types.js';

export interface PushPlanInput {
  local: Snapshot;
  remote: Snapshot;
  baseline: Baseline;
  paths?: Iterable<string>;
  deleteExtraneous: boolean;
  verifyContent: boolean;
  hashes?: Hashes;
  isUnknown?: (path: string) => boolean;
}

export type PushOp =
  | { kind: 'mkdir' | 'write' | 'symlink' | 'meta'; path: string; entry: Entry }
  | { kind: 'delete'; path: string; expect: Entry | null }
  | { kind: 'rename'; from: string; path: string; entry: Entry };

export interface PushPlan {
  ops: PushOp[];
  needHashes: string[];
  deleteCount: number;
  agreed: [string, BaselineRecord][];
  unchanged: string[];
  forgotten: string[];
}

export function getPushPlan(input: PushPlanInput): PushPlan {
  const plan = reconcile({
    ...input,
    getMode: () => 'push',
    getPolicy: () => 'keep-both',
    hosts: { local: 'here', remote: 'there' },
    now: new Date(0),
    deleteGuard: 1,
    force: true,
  });
  const ops = plan.ops.map((op): PushOp => {
    if (op.side !== 'remote') throw new Error(`push changed the ${op.side} side`);
    if (op.kind === 'delete') return { kind: 'delete', path: op.path, expect: op.guard.expect };
    if (op.kind === 'rename') return { kind: 'rename', from: op.from, path: op.path, entry: op.entry };
    return { kind: op.kind, path: op.path, entry: op.entry };
  });
  return {
    ops,
    needHashes: plan.needHashes,
    deleteCount: plan.deletes.remote,
    agreed: plan.agreed,
    unchanged: plan.unchanged,
    forgotten: plan.forgotten,
  };
}
