/**
 * Rename detection, on either side: a path that vanished there and a new one with the same inode
 * (and, for files, the same size and mtime) is a move. Sending it as a rename keeps a 200 MB file
 * from travelling again.
 */
import { isInside, isSameStat, type Entry, type Snapshot } from '../entry.js';
import { getOtherSide, type Baseline, type BaselineRecord, type Side } from './types.js';

export interface Rename {
  /** The side where the move happened; it is repeated on the other one. */
  side: Side;
  from: string;
  to: string;
  entry: Entry;
}

function isSameObject(now: Entry, before: Entry): boolean {
  if (now.kind !== before.kind || now.ino !== before.ino) return false;
  return now.kind === 'dir' || (now.size === before.size && now.mtimeNs === before.mtimeNs);
}

/**
 * Pairs of (gone, new) paths among `paths` that are the same object moved on side `moved`.
 * Outermost first. `canMove(path)` says whether changes of `moved` may travel at that path (a move
 * into or out of a `pull` rule's folder is not repeated at the destination).
 */
export function findRenames(
  paths: readonly string[],
  moved: Side,
  snapshots: Record<Side, Snapshot>,
  baseline: Baseline,
  canMove: (path: string) => boolean,
): Rename[] {
  const other = getOtherSide(moved);
  const source = snapshots[moved];
  const target = snapshots[other];
  const goneByInode = new Map<string, string>();
  for (const path of paths) {
    const base = baseline.get(path);
    const there = target.get(path);
    // Only what is still exactly as we left it on the other side can be moved there (a folder's
    // own times move with its content, so for folders the same object is enough).
    const untouched =
      there &&
      base &&
      (there.kind === 'dir' ? there.ino === base[other].ino && base[other].kind === 'dir' : isSameStat(there, base[other]));
    if (!source.has(path) && base && untouched && canMove(path)) goneByInode.set(base[moved].ino, path);
  }
  if (goneByInode.size === 0) return [];
  const renames: Rename[] = [];
  const sorted = [...paths].sort((a, b) => a.split('/').length - b.split('/').length);
  for (const path of sorted) {
    const entry = source.get(path);
    if (!entry || target.has(path) || renames.some((r) => isInside(path, r.to)) || !canMove(path)) continue;
    const from = goneByInode.get(entry.ino);
    const base = from === undefined ? undefined : baseline.get(from);
    if (from === undefined || !base || !isSameObject(entry, base[moved])) continue;
    if (renames.some((r) => isInside(from, r.from))) continue;
    goneByInode.delete(entry.ino);
    renames.push({ side: moved, from, to: path, entry });
  }
  return renames;
}

function movePrefix<T>(map: Map<string, T>, from: string, to: string, rewrite: (value: T, path: string) => T): void {
  const moved: [string, T][] = [];
  for (const [path, value] of map) {
    if (path === from || isInside(path, from)) {
      const next = to + path.slice(from.length);
      moved.push([next, rewrite(value, next)]);
      map.delete(path);
    }
  }
  for (const [path, value] of moved) map.set(path, value);
}

/** A baseline record at another path. */
export function moveRecord(record: BaselineRecord, path: string): BaselineRecord {
  return { local: { ...record.local, path }, remote: { ...record.remote, path } };
}

/**
 * Applies renames to copies of the snapshots and the baseline, as the sides will look once they
 * are done, so that the rest of the plan is computed against that.
 */
export function applyRenames(
  renames: readonly Rename[],
  snapshots: Record<Side, Snapshot>,
  baseline: Baseline,
): { snapshots: Record<Side, Snapshot>; baseline: Baseline } {
  const next: Record<Side, Snapshot> = { local: snapshots.local, remote: snapshots.remote };
  const nextBaseline = new Map(baseline);
  for (const side of ['local', 'remote'] as const) {
    const repeated = renames.filter((r) => getOtherSide(r.side) === side);
    if (repeated.length === 0) continue;
    next[side] = new Map(snapshots[side]);
    for (const { from, to } of repeated) movePrefix(next[side], from, to, (entry, path) => ({ ...entry, path }));
  }
  for (const { from, to } of renames) movePrefix(nextBaseline, from, to, moveRecord);
  return { snapshots: next, baseline: nextBaseline };
}
