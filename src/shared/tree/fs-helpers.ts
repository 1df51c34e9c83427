/**
 * Small filesystem helpers of the daemon that work around Node's own.
 */
import { lstatSync, mkdirSync, readlinkSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode, SicksyncError, hasErrno } from '../errors.js';

/**
 * `mkdir -p` one level at a time, for a destination root: symlinks on its way are followed (the
 * user chose that path). Node 20's `mkdirSync(path, { recursive: true })` never returns when the
 * kernel answers ENOENT for a parent that exists (e.g. under /proc); this one fails instead.
 */
export function makeFolders(path: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    try {
      if (statSync(current).isDirectory()) break;
      mkdirSync(current, { mode }); // not a folder: let mkdir report EEXIST/ENOTDIR
    } catch (error) {
      if (!hasErrno(error, 'ENOENT') || dirname(current) === current) throw error;
      missing.push(current);
    }
  }
  for (const folder of missing.reverse()) {
    try {
      mkdirSync(folder, { mode });
    } catch (error) {
      if (!hasErrno(error, 'EEXIST')) throw error;
      const link = getDanglingTarget(folder);
      if (link !== null) {
        throw new SicksyncError(
          ErrorCode.IO,
          `${folder} is a symlink to ${link}, which does not exist: create that folder, or fix the link`,
        );
      }
      if (!statSync(folder).isDirectory()) throw error;
    }
  }
}

/** The target of `path` when it is a symlink leading nowhere; null otherwise. */
function getDanglingTarget(path: string): string | null {
  try {
    if (!lstatSync(path).isSymbolicLink()) return null;
    statSync(path);
    return null;
  } catch (error) {
    if (!hasErrno(error, 'ENOENT')) return null;
    return readlinkSync(path);
  }
}

/**
 * Seconds for utimes() that land on the right microsecond. libuv truncates the double to whole
 * microseconds, and the double itself is ~240 ns coarse at today's dates, so …457037 ns would become
 * …456000; aiming at the middle of the microsecond keeps every copy within 0.5 µs of its source.
 */
export function toUtimesSeconds(ns: string | bigint): number {
  const micros = (BigInt(ns) + 500n) / 1000n;
  return Number(micros * 1000n + 500n) / 1e9;
}
