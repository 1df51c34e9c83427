/**
 * Sends a plan's operations to an endpoint with a bounded number in flight, and folds every
 * acknowledgement into the baseline, so that the baseline only ever records what the destination
 * confirmed.
 */
import { isInside } from '../../shared/entry.js';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { Baseline, Op } from '../../shared/plan/types.js';
import { SourceChangedError, type Endpoint, type OpResult } from '../endpoint/endpoint.js';

/** Operations awaiting their acknowledgement at once: keeps the pipe full without unbounded memory. */
const WINDOW = 32;

export interface ApplyOutcome {
  applied: number;
  bytes: number;
  /** Paths to plan again: their source changed while being sent. */
  retry: string[];
  /** Paths the destination refused, with why. */
  failed: Map<string, SicksyncError>;
  notes: string[];
}

function recordResult(baseline: Baseline, op: Op, result: OpResult): void {
  if (op.kind === 'delete') {
    baseline.delete(op.path);
    return;
  }
  if (op.kind === 'rename') {
    for (const path of [...baseline.keys()]) {
      if (path === op.from || isInside(path, op.from)) {
        const record = baseline.get(path);
        baseline.delete(path);
        const moved = op.path + path.slice(op.from.length);
        if (record) baseline.set(moved, { local: { ...record.local, path: moved }, remote: { ...record.remote, path: moved } });
      }
    }
  }
  if (result.entry) baseline.set(op.path, { local: op.entry, remote: result.entry });
  else baseline.delete(op.path);
}

export async function applyPlan(endpoint: Endpoint, ops: readonly Op[], localRoot: string, baseline: Baseline): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = { applied: 0, bytes: 0, retry: [], failed: new Map(), notes: [] };
  const inFlight = new Set<Promise<void>>();
  // Set from callbacks, so kept in an object: TypeScript would narrow a plain `let` to null here.
  const connection: { lost: Error | null } = { lost: null };
  for (const op of ops) {
    if (connection.lost) break;
    const pending = endpoint.apply(op, localRoot).then(
      (result) => {
        recordResult(baseline, op, result);
        outcome.applied += 1;
        if (op.kind === 'write') outcome.bytes += op.entry.size;
        if (result.note && result.note !== 'already gone') outcome.notes.push(`${op.path}: ${result.note}`);
      },
      (error: unknown) => {
        if (error instanceof SourceChangedError) outcome.retry.push(op.path);
        else if (error instanceof SicksyncError && error.code !== ErrorCode.CONNECTION_LOST) outcome.failed.set(op.path, error);
        else connection.lost ??= error instanceof Error ? error : new Error(String(error));
      },
    );
    inFlight.add(pending);
    void pending.finally(() => inFlight.delete(pending));
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (connection.lost) throw connection.lost;
  return outcome;
}
