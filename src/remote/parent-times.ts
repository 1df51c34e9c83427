import type { BigIntStats } from 'node:fs';
import { lstat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The times of the folder holding `target`, to put back after changing something in it. */
export async function readParentTimes(target: string): Promise<BigIntStats | null> {
  return lstat(dirname(target), { bigint: true }).catch(() => null);
}

export async function restoreParentTimes(target: string, before: BigIntStats | null): Promise<void> {
  if (!before) return;
  // utimes takes seconds as a double: ~240 ns of precision at today's dates (libuv uv_fs_utime).
  await utimes(dirname(target), Number(before.atimeNs) / 1e9, Number(before.mtimeNs) / 1e9).catch(() => undefined);
}

/**
 * Runs a change inside a folder without moving the folder's own mtime, so that folder times follow
 * the source (which sets them explicitly) rather than the order in which we happened to write.
 */
export async function keepParentTimes<T>(target: string, change: () => Promise<T>): Promise<T> {
  const before = await readParentTimes(target);
  const result = await change();
  await restoreParentTimes(target, before);
  return result;
}
