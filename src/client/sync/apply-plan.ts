/**
 * Applies a plan's operations to both sides with a bounded number in flight, and folds every
 * confirmed result into the baseline and the snapshots, so that the baseline only ever records
 * what a side confirmed.
 */
import { isInside, type Entry, type Snapshot } from '../../shared/entry.js';
import { ErrorCode, SicksyncError, TargetChangedError } from '../../shared/errors.js';
import { moveRecord } from '../../shared/plan/renames.js';
import type { Baseline, Op } from '../../shared/plan/types.js';
import { SourceChangedError, type Endpoint, type OpResult } from '../endpoint/endpoint.js';
import type { ProjectSide } from './project-side.js';

/** Operations awaiting their acknowledgement at once: keeps the pipe full without unbounded memory. */
const WINDOW = 32;

export interface ApplyOutcome {
  applied: number;
  /** Content bytes sent to the destination, and brought back from it. */
  bytes: number;
  received: number;
  /** Paths to plan again: their source or target changed while they were applied. */
  retry: string[];
  /** Paths the destination (or the project folder) refused, with why. */
  failed: Map<string, SicksyncError>;
  notes: string[];
  /** Paths changed in the project folder: the other destinations must hear of them. */
  changedHere: string[];
}

/** The two sides as the applier sees them. */
export interface Sides {
  endpoint: Endpoint;
  project: ProjectSide;
  /** The project's index: what the project folder holds. */
  local: Snapshot;
  /** What the destination holds, as last scanned, notified or confirmed. */
  remote: Snapshot;
  baseline: Baseline;
  /** Records what sicksync itself did in the project, so its watcher does not report it back. */
  noteLocal: (path: string, entry: Entry | null, hash?: string) => void;
  noteLocalMove: (from: string, to: string) => void;
  /**
   * An operation whose answer the lost connection took with it: it may have been applied. The
   * destination's next scan tells (see DestinationSync.adoptUnconfirmed).
   */
  noteUnconfirmed?: (op: Op) => void;
}

function movePrefix(snapshot: Snapshot, from: string, to: string): void {
  for (const [path, entry] of [...snapshot]) {
    if (path !== from && !isInside(path, from)) continue;
    snapshot.delete(path);
    const next = to + path.slice(from.length);
    snapshot.set(next, { ...entry, path: next });
  }
}

function setOrDelete(snapshot: Snapshot, path: string, entry: Entry | null): void {
  if (entry) snapshot.set(path, entry);
  else snapshot.delete(path);
}

function recordResult(sides: Sides, op: Op, result: OpResult): void {
  const { baseline } = sides;
  const target = op.side === 'remote' ? sides.remote : sides.local;
  if (op.kind === 'rename') {
    for (const path of [...baseline.keys()]) {
      if (path === op.from || isInside(path, op.from)) {
        const record = baseline.get(path);
        baseline.delete(path);
        const moved = op.path + path.slice(op.from.length);
        if (record) baseline.set(moved, moveRecord(record, moved));
      }
    }
    if (op.side === 'local') sides.noteLocalMove(op.from, op.path);
    else movePrefix(target, op.from, op.path);
  }
  if (op.side === 'local') sides.noteLocal(op.path, result.entry, result.hash);
  else setOrDelete(target, op.path, result.entry);
  if (op.kind === 'delete' || !result.entry) {
    baseline.delete(op.path);
    return;
  }
  // A new folder's times are set by the meta op that follows its content: until that is confirmed,
  // its record must not say the times agree, or a connection lost in between would leave them so.
  const source = op.kind === 'mkdir' ? { ...op.entry, mtimeNs: '0' } : op.entry;
  baseline.set(op.path, op.side === 'remote' ? { local: source, remote: result.entry } : { local: result.entry, remote: source });
}

/** Each operation changes its side, with content read from the other one. */
function applyOne(sides: Sides, op: Op): Promise<OpResult> {
  return op.side === 'remote' ? sides.endpoint.apply(op, sides.project) : sides.project.apply(op, sides.endpoint);
}

export async function applyPlan(sides: Sides, ops: readonly Op[]): Promise<ApplyOutcome> {
  const outcome: ApplyOutcome = { applied: 0, bytes: 0, received: 0, retry: [], failed: new Map(), notes: [], changedHere: [] };
  const inFlight = new Set<Promise<void>>();
  // Set from callbacks, so kept in an object: TypeScript would narrow a plain `let` to null here.
  const connection: { lost: Error | null } = { lost: null };
  // Content written in the project arrives over the network while later operations go on; a
  // folder's times are set once every file in it is in (the daemon's scheduler does the same).
  const localWrites = new Set<Promise<unknown>>();
  for (const op of ops) {
    if (connection.lost) break;
    if (op.side === 'local' && op.kind === 'meta' && op.entry.kind === 'dir') await Promise.allSettled(localWrites);
    const applied = applyOne(sides, op);
    if (op.side === 'local' && op.kind === 'write') {
      localWrites.add(applied);
      void applied.catch(() => undefined).finally(() => localWrites.delete(applied));
    }
    const pending = applied.then(
      (result) => {
        recordResult(sides, op, result);
        outcome.applied += 1;
        if (op.kind === 'write') {
          if (op.side === 'remote') outcome.bytes += result.sent ?? op.entry.size;
          else outcome.received += op.entry.size;
        }
        if (op.side === 'local') outcome.changedHere.push(op.path, ...(op.kind === 'rename' ? [op.from] : []));
        if (result.note && result.note !== 'already gone') outcome.notes.push(`${op.path}: ${result.note}`);
      },
      (error: unknown) => {
        if (error instanceof TargetChangedError) {
          // Planned against a state that is gone: take in what is there now, and plan again.
          if (op.side === 'local') sides.noteLocal(error.path, error.current);
          else setOrDelete(sides.remote, error.path, error.current);
          outcome.retry.push(op.path);
        } else if (error instanceof SourceChangedError || (error instanceof SicksyncError && error.code === ErrorCode.SOURCE_CHANGED)) {
          outcome.retry.push(op.path);
        } else if (error instanceof SicksyncError && error.code !== ErrorCode.CONNECTION_LOST) outcome.failed.set(op.path, error);
        else {
          connection.lost ??= error instanceof Error ? error : new Error(String(error));
          sides.noteUnconfirmed?.(op);
        }
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
