/**
 * The operations a client may ask of one destination folder. Every path is confined to the root
 * first; every change keeps folder times, replaces atomically, and never destroys what the client
 * did not expect to be there.
 *
 * Metadata calls are synchronous: a few µs each on a local disk, against ~60 µs for a thread-pool
 * round trip, which dominated the cost of small files. File content is written asynchronously.
 */
import { chmodSync, lstatSync, lutimesSync, renameSync, rmdirSync, symlinkSync, unlinkSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getConflictPath } from '../shared/conflict-name.js';
import { hasSameMtime, type Entry } from '../shared/entry.js';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { getFileHash } from '../shared/hash.js';
import type { IgnoreRules } from '../shared/ignore-rules.js';
import { validateLinkTarget } from '../shared/paths.js';
import { scanTree } from '../shared/scan.js';
import { getEntry } from '../shared/stat-entry.js';
import { AtomicWrite } from './atomic-write.js';
import { resolveInsideRoot } from './confine.js';
import { toDestinationError } from './fs-errors.js';
import { makeFolders, toUtimesSeconds } from './fs-helpers.js';
import { FolderTimesKeeper } from './parent-times.js';
import { getTempPath, isTempName, sweepTempFiles } from './temp-files.js';

export interface OpResult {
  entry: Entry | null;
  note?: string;
}

/** The destination still holds what the client believes it does (same kind, size and mtime). */
function isExpected(current: Entry, expect: Entry): boolean {
  return current.kind === expect.kind && current.size === expect.size && hasSameMtime(current, expect);
}

export class DestinationRoot {
  constructor(
    readonly root: string,
    readonly rules: IgnoreRules,
    /** Names conflict copies after the host whose change displaced them. */
    private readonly clientName: string,
  ) {
    this.folderTimes = FolderTimesKeeper.forRoot(root);
  }

  /** Folder times kept while files change inside them. */
  private readonly folderTimes: FolderTimesKeeper;

  /** Folders known not to be symlinks; forgotten whenever a folder is moved or removed here. */
  private readonly checkedFolders = new Set<string>();

  private resolve(path: string): string {
    const absolute = resolveInsideRoot(this.root, path, this.checkedFolders);
    if (this.rules.isIgnored(path, false)) {
      throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(path)}: it is excluded by the project's rules`);
    }
    return absolute;
  }

  private run(action: string, path: string, work: () => OpResult): OpResult {
    try {
      return work();
    } catch (error) {
      throw toDestinationError(error, action, path);
    }
  }

  /** Also removes the temporary files a killed daemon left, which the scan itself never reports. */
  async scan() {
    const temps: string[] = [];
    const snapshot = await scanTree(this.root, this.rules, '', (path, entry) => {
      if (entry.kind !== 'dir' && isTempName(path)) temps.push(join(this.root, path));
    });
    if (temps.length > 0) this.folderTimes.keepAll(temps, () => sweepTempFiles(temps));
    return snapshot;
  }

  async hash(paths: readonly string[]): Promise<Record<string, string | null>> {
    const hashes: Record<string, string | null> = {};
    for (const path of paths) {
      const absolute = this.resolve(path);
      // Only regular files: hashing through a symlink would read whatever it points to.
      hashes[path] = getEntry(absolute, path)?.kind === 'file' ? await getFileHash(absolute).catch(() => null) : null;
    }
    return hashes;
  }

  mkdir(path: string, mode: number): OpResult {
    return this.run('create folder', path, () => {
      const absolute = this.resolve(path);
      if (getEntry(absolute, path)?.kind === 'symlink') {
        // chmod would follow it; the client deletes a link before putting a folder in its place.
        throw new SicksyncError(ErrorCode.IO, `cannot create folder ${JSON.stringify(path)}: a symlink is in the way`);
      }
      this.folderTimes.keep(absolute, () => makeFolders(absolute));
      chmodSync(absolute, mode);
      return { entry: getEntry(absolute, path) };
    });
  }

  symlink(path: string, target: string, mtimeNs: string): OpResult {
    return this.run('create link', path, () => {
      validateLinkTarget(path, target);
      const absolute = this.resolve(path);
      this.checkedFolders.delete(path);
      // A new link under a temporary name, renamed over the old one: never a moment without either.
      const temp = getTempPath(absolute);
      makeFolders(dirname(absolute));
      this.folderTimes.keep(absolute, () => {
        symlinkSync(target, temp);
        lutimesSync(temp, toUtimesSeconds(mtimeNs), toUtimesSeconds(mtimeNs));
        try {
          renameSync(temp, absolute);
        } catch (error) {
          unlinkSync(temp);
          throw error;
        }
      });
      return { entry: getEntry(absolute, path) };
    });
  }

  beginWrite(path: string, size: number): AtomicWrite {
    try {
      return AtomicWrite.start(this.resolve(path), size, this.folderTimes);
    } catch (error) {
      throw toDestinationError(error, 'write', path);
    }
  }

  finishWrite(path: string, write: AtomicWrite, mode: number, mtimeNs: string): OpResult {
    return this.run('write', path, () => {
      const absolute = this.resolve(path);
      write.commit(mode, mtimeNs);
      return { entry: getEntry(absolute, path) };
    });
  }

  meta(path: string, mode: number, mtimeNs: string | null): OpResult {
    return this.run('set times and mode of', path, () => {
      const absolute = this.resolve(path);
      const current = getEntry(absolute, path);
      if (!current) throw new SicksyncError(ErrorCode.IO, `cannot set times of ${JSON.stringify(path)}: it is gone`);
      if (current.kind === 'symlink') {
        if (mtimeNs !== null) lutimesSync(absolute, toUtimesSeconds(mtimeNs), toUtimesSeconds(mtimeNs));
      } else {
        chmodSync(absolute, mode);
        if (mtimeNs !== null) utimesSync(absolute, toUtimesSeconds(mtimeNs), toUtimesSeconds(mtimeNs));
        if (current.kind === 'dir') this.folderTimes.refresh(absolute);
      }
      return { entry: getEntry(absolute, path) };
    });
  }

  delete(path: string, expect: Entry | null): OpResult {
    return this.run('delete', path, () => {
      const absolute = this.resolve(path);
      const current = getEntry(absolute, path);
      if (!current) return { entry: null, note: 'already gone' };
      if (current.kind === 'dir') {
        this.checkedFolders.clear();
        try {
          this.folderTimes.keep(absolute, () => rmdirSync(absolute));
        } catch (error) {
          if (!hasErrno(error, 'ENOTEMPTY', 'EEXIST')) throw error;
          // What is left was never ours to delete (excluded, or only ever at the destination).
          return { entry: current, note: 'kept: the folder still holds files sicksync does not manage' };
        }
        return { entry: null };
      }
      // Something else may have been put in a folder's place: check parents afresh from now on.
      if (current.kind === 'symlink') this.checkedFolders.clear();
      if (expect && !isExpected(current, expect)) {
        const keep = getConflictPath(path, this.clientName, new Date());
        this.folderTimes.keep(absolute, () => renameSync(absolute, `${this.root}/${keep}`));
        return { entry: null, note: `changed at the destination since the last sync; kept as ${keep}` };
      }
      this.folderTimes.keep(absolute, () => unlinkSync(absolute));
      return { entry: null };
    });
  }

  rename(from: string, to: string): OpResult {
    return this.run('move', from, () => {
      const source = this.resolve(from);
      const target = this.resolve(to);
      this.checkedFolders.clear();
      lstatSync(source);
      makeFolders(dirname(target));
      this.folderTimes.keep(source, () => this.folderTimes.keep(target, () => renameSync(source, target)));
      return { entry: getEntry(target, to) };
    });
  }
}
