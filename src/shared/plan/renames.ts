/**
 * Rename detection: a path that vanished locally and a new one with the same inode (and, for files,
 * the same size and mtime) is a move. Sending it as a rename keeps a 200 MB file from travelling again.
 */
import { isInside, isSameStat, type Entry, type Snapshot } from '../entry.js';
import type { Baseline, BaselineRecord } from './types.js';

export interface Rename {
  from: string;
  to: string;
  entry: Entry;
}

function isSameObject(now: Entry, before: Entry): boolean {
  if (now.kind !== before.kind || now.ino !== before.ino) return false;
  return now.kind === 'dir' || (now.size === before.size && now.mtimeNs === before.mtimeNs);
}

/** Pairs of (gone, new) paths among `paths` that are the same object moved. Outermost first. */
export function findRenames(paths: readonly string[], local: Snapshot, remote: Snapshot, baseline: Baseline): Rename[] {
  const goneByInode = new Map<string, string>();
  for (const path of paths) {
    const base = baseline.get(path);
    const there = remote.get(path);
    // Only what is still exactly as we left it at the destination can be moved there (a folder's
    // own times move with its content, so for folders the same object is enough).
    const untouched =
      there &&
      base &&
      (there.kind === 'dir' ? there.ino === base.remote.ino && base.remote.kind === 'dir' : isSameStat(there, base.remote));
    if (!local.has(path) && base && untouched) {
      goneByInode.set(base.local.ino, path);
    }
  }
  if (goneByInode.size === 0) return [];
  const renames: Rename[] = [];
  const sorted = [...paths].sort((a, b) => a.split('/').length - b.split('/').length);
  for (const path of sorted) {
    const entry = local.get(path);
    if (!entry || remote.has(path) || renames.some((r) => isInside(path, r.to))) continue;
    const from = goneByInode.get(entry.ino);
    const base = from === undefined ? undefined : baseline.get(from);
    if (from === undefined || !base || !isSameObject(entry, base.local)) continue;
    if (renames.some((r) => isInside(from, r.from))) continue;
    goneByInode.delete(entry.ino);
    renames.push({ from, to: path, entry });
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

/**
 * Applies renames to copies of the remote view and the baseline, as the destination will look once
 * they are done, so that the rest of the plan is computed against that.
 */
export function applyRenames(renames: readonly Rename[], remote: Snapshot, baseline: Baseline): { remote: Snapshot; baseline: Baseline } {
  const nextRemote = new Map(remote);
  const nextBaseline = new Map(baseline);
  for (const { from, to } of renames) {
    movePrefix(nextRemote, from, to, (entry, path) => ({ ...entry, path }));
    movePrefix(nextBaseline, from, to, (record: BaselineRecord, path) => ({
      local: { ...record.local, path },
      remote: { ...record.remote, path },
    }));
  }
  return { remote: nextRemote, baseline: nextBaseline };
}
