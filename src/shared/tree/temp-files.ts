/**
 * Temporary files of atomic writes: how they are named, which ones are in use, and the sweep of the
 * ones a killed daemon left behind. Scans never report them (a built-in exclude), so without the
 * sweep a half-written 200 MB file would stay on the destination's disk forever.
 *
 * A name carries the pid of the daemon that made it: `.<name>.sicksync-tmp-<pid>-<random>`. A file
 * is stale when that process is gone, or when it is this daemon's and no write of ours holds it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConfinedRoot } from './confined-fs.js';

export const TEMP_MARK = '.sicksync-tmp-';

/** Temporary files this daemon is writing right now, by absolute path. */
const inUse = new Set<string>();

/**
 * Random per process, counted per file: names never repeat within a daemon's life nor across
 * daemons, and a first sync of 20,000 files does not ask the kernel for randomness 20,000 times.
 */
const TEMP_PREFIX = randomBytes(4).toString('hex');
let tempCount = 0;

/** A temporary name in the same folder as `target`, so the final rename stays on one filesystem. */
export function getTempPath(target: string): string {
  tempCount += 1;
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${process.pid}-${TEMP_PREFIX}${tempCount.toString(16)}`);
}

export function isTempName(name: string): boolean {
  return name.includes(TEMP_MARK);
}

export function holdTempFile(path: string): () => void {
  inUse.add(path);
  return () => inUse.delete(path);
}

/**
 * Whether `pid` may still be writing: a zombie (killed, not yet reaped) is not, nor is a process
 * that reused the number and is no sicksync. /proc answers both on Linux; elsewhere, signal 0.
 */
function isWriterAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sicksync');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** Whether a temporary file at `path` can be removed: no live writer can own it any more. */
export function isStaleTempFile(path: string): boolean {
  if (inUse.has(path)) return false;
  const name = basename(path);
  const owner = /\.sicksync-tmp-(\d+)-[0-9a-f]+$/.exec(name)?.[1];
  // Names without a pid come from versions that wrote them only while their daemon ran, and one
  // daemon per user runs at a time: whoever made it is gone.
  if (owner === undefined) return true;
  const pid = Number(owner);
  return pid === process.pid || !isWriterAlive(pid);
}

/**
 * Removes the stale ones among `paths` (relative to the root); returns those removed. Through the
 * confined walk: never follows a symlink, nor a folder swapped for one.
 */
export function sweepTempFiles(confined: ConfinedRoot, paths: readonly string[]): string[] {
  const removed: string[] = [];
  for (const path of paths) {
    if (!isStaleTempFile(join(confined.root, path))) continue;
    try {
      confined.inParent(path, false, (folder, name) => {
        if (lstatSync(folder.at(name)).isDirectory()) return;
        unlinkSync(folder.at(name));
        removed.push(path);
      });
    } catch {
      // Gone already, or not ours to remove (permissions): the next scan tries again.
    }
  }
  return removed;
}
