import { lstatSync, utimesSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { toUtimesSeconds } from './fs-helpers.js';

/** The times of the folder holding `target`, to put back after changing something in it. */
export function readParentTimes(target: string): BigIntStats | null {
  try {
    return lstatSync(dirname(target), { bigint: true });
  } catch {
    return null;
  }
}

export function restoreParentTimes(target: string, before: BigIntStats | null): void {
  if (!before) return;
  try {
    utimesSync(dirname(target), toUtimesSeconds(before.atimeNs), toUtimesSeconds(before.mtimeNs));
  } catch {
    // The folder went away meanwhile; nothing to keep.
  }
}

/**
 * Runs a change inside a folder without moving the folder's own mtime, so that folder times follow
 * the source (which sets them explicitly) rather than the order in which we happened to write.
 */
export function keepParentTimes<T>(target: string, change: () => T): T {
  const before = readParentTimes(target);
  const result = change();
  restoreParentTimes(target, before);
  return result;
}
