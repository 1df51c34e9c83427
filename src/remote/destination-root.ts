/**
 * The operations a client may ask of one destination folder. Every path is confined to the root
 * first; every change keeps folder times, replaces atomically, and never destroys what the client
 * did not expect to be there.
 */
import { lstat, mkdir, rename, rmdir, symlink, unlink, chmod, utimes, lutimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { getConflictPath } from '../shared/conflict-name.js';
import { hasSameMtime, type Entry } from '../shared/entry.js';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { getFileHash } from '../shared/hash.js';
import type { IgnoreRules } from '../shared/ignore-rules.js';
import { validateLinkTarget } from '../shared/paths.js';
import { scanTree } from '../shared/scan.js';
import { getEntry } from '../shared/stat-entry.js';
import { AtomicWrite, getTempPath } from './atomic-write.js';
import { resolveInsideRoot } from './confine.js';
import { toDestinationError } from './fs-errors.js';
import { keepParentTimes } from './parent-times.js';

export interface OpResult {
  entry: Entry | null;
  note?: string;
}

function toSeconds(mtimeNs: string): number {
  return Number(BigInt(mtimeNs)) / 1e9;
}

/** The destination still holds what the client believes it does (same object, same content stamp). */
function isExpected(current: Entry, expect: Entry): boolean {
  return current.kind === expect.kind && current.size === expect.size && hasSameMtime(current, expect);
}

export class DestinationRoot {
  constructor(
    readonly root: string,
    readonly rules: IgnoreRules,
    /** Names conflict copies after the host whose change displaced them. */
    private readonly clientName: string,
  ) {}

  private async resolve(path: string): Promise<string> {
    const absolute = await resolveInsideRoot(this.root, path);
    if (this.rules.isIgnored(path, false)) {
      throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(path)}: it is excluded by the project's rules`);
    }
    return absolute;
  }

  private async run(action: string, path: string, work: () => Promise<OpResult>): Promise<OpResult> {
    try {
      return await work();
    } catch (error) {
      throw toDestinationError(error, action, path);
    }
  }

  scan() {
    return scanTree(this.root, this.rules);
  }

  async hash(paths: readonly string[]): Promise<Record<string, string | null>> {
    const hashes: Record<string, string | null> = {};
    for (const path of paths) {
      const absolute = await this.resolve(path);
      hashes[path] = await getFileHash(absolute).catch(() => null);
    }
    return hashes;
  }

  mkdir(path: string, mode: number): Promise<OpResult> {
    return this.run('create folder', path, async () => {
      const absolute = await this.resolve(path);
      await keepParentTimes(absolute, () => mkdir(absolute, { recursive: true }));
      await chmod(absolute, mode);
      return { entry: await getEntry(absolute, path) };
    });
  }

  symlink(path: string, target: string): Promise<OpResult> {
    return this.run('create link', path, async () => {
      validateLinkTarget(path, target);
      const absolute = await this.resolve(path);
      // A new link under a temporary name, renamed over the old one: never a moment without either.
      const temp = getTempPath(absolute);
      await mkdir(dirname(absolute), { recursive: true });
      await symlink(target, temp);
      await keepParentTimes(absolute, () => rename(temp, absolute)).catch(async (error: unknown) => {
        await unlink(temp).catch(() => undefined);
        throw error;
      });
      return { entry: await getEntry(absolute, path) };
    });
  }

  async beginWrite(path: string, size: number): Promise<AtomicWrite> {
    try {
      return await AtomicWrite.start(await this.resolve(path), size);
    } catch (error) {
      throw toDestinationError(error, 'write', path);
    }
  }

  async finishWrite(path: string, write: AtomicWrite, mode: number, mtimeNs: string): Promise<OpResult> {
    return this.run('write', path, async () => {
      const absolute = await this.resolve(path);
      await write.commit(mode, mtimeNs);
      return { entry: await getEntry(absolute, path) };
    });
  }

  meta(path: string, mode: number, mtimeNs: string | null): Promise<OpResult> {
    return this.run('set times and mode of', path, async () => {
      const absolute = await this.resolve(path);
      const current = await getEntry(absolute, path);
      if (!current) throw new SicksyncError(ErrorCode.IO, `cannot set times of ${JSON.stringify(path)}: it is gone`);
      if (current.kind === 'symlink') {
        if (mtimeNs !== null) await lutimes(absolute, toSeconds(mtimeNs), toSeconds(mtimeNs));
      } else {
        await chmod(absolute, mode);
        if (mtimeNs !== null) await utimes(absolute, toSeconds(mtimeNs), toSeconds(mtimeNs));
      }
      return { entry: await getEntry(absolute, path) };
    });
  }

  delete(path: string, expect: Entry | null): Promise<OpResult> {
    return this.run('delete', path, async () => {
      const absolute = await this.resolve(path);
      const current = await getEntry(absolute, path);
      if (!current) return { entry: null, note: 'already gone' };
      if (current.kind === 'dir') {
        try {
          await keepParentTimes(absolute, () => rmdir(absolute));
        } catch (error) {
          if (!hasErrno(error, 'ENOTEMPTY', 'EEXIST')) throw error;
          // What is left was never ours to delete (excluded, or only ever at the destination).
          return { entry: current, note: 'kept: the folder still holds files sicksync does not manage' };
        }
        return { entry: null };
      }
      if (expect && !isExpected(current, expect)) {
        const keep = getConflictPath(path, this.clientName, new Date());
        await keepParentTimes(absolute, () => rename(absolute, `${this.root}/${keep}`));
        return { entry: null, note: `changed at the destination since the last sync; kept as ${keep}` };
      }
      await keepParentTimes(absolute, () => unlink(absolute));
      return { entry: null };
    });
  }

  rename(from: string, to: string): Promise<OpResult> {
    return this.run('move', from, async () => {
      const source = await this.resolve(from);
      const target = await this.resolve(to);
      await lstat(source);
      await mkdir(dirname(target), { recursive: true });
      await keepParentTimes(source, () => keepParentTimes(target, () => rename(source, target)));
      return { entry: await getEntry(target, to) };
    });
  }
}
