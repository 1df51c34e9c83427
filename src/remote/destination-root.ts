/**
 * The operations a client may ask of one destination folder. Every path is checked by its text
 * first, then reached through confined-fs.ts, which refuses a symlink anywhere on the way at the
 * moment of the operation; every change keeps folder times, replaces atomically, and never
 * destroys what the client did not expect to be there.
 *
 * Metadata calls are synchronous: a few µs each on a local disk, against ~60 µs for a thread-pool
 * round trip, which dominated the cost of small files. File content is written asynchronously.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { basename } from 'node:path';
import { getConflictPath } from '../shared/conflict-name.js';
import { hasSameMtime, type Entry } from '../shared/entry.js';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { getFileHash } from '../shared/hash.js';
import type { IgnoreRules } from '../shared/ignore-rules.js';
import { PATH_MAX, validateLinkTarget, validateRelativePath } from '../shared/paths.js';
import { scanTree } from '../shared/scan.js';
import { getEntry } from '../shared/stat-entry.js';
import { AtomicWrite } from './atomic-write.js';
import { ConfinedRoot, FOLDER_FLAGS, type OpenFolder } from './confined-fs.js';
import { toDestinationError } from './fs-errors.js';
import { toUtimesSeconds } from './fs-helpers.js';
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

/** A file to hash: read-only, never through a symlink, and no wait on a FIFO put in its place. */
const HASH_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class DestinationRoot {
  private readonly confined: ConfinedRoot;
  /** Folder times kept while files change inside them. */
  private readonly folderTimes: FolderTimesKeeper;

  constructor(
    /** The destination's real path: no symlink in it (session.ts resolves it at the handshake). */
    readonly root: string,
    readonly rules: IgnoreRules,
    /** Names conflict copies after the host whose change displaced them. */
    private readonly clientName: string,
  ) {
    this.confined = new ConfinedRoot(root);
    this.folderTimes = FolderTimesKeeper.forRoot(this.confined);
  }

  /** The checks on the text of a path; the filesystem's are made by the walk of each operation. */
  private check(path: string): void {
    validateRelativePath(path);
    // The walk would reach any depth; tools at the destination (rm -r included) cannot.
    if (Buffer.byteLength(this.root) + 1 + Buffer.byteLength(path) >= PATH_MAX) {
      throw new SicksyncError(
        ErrorCode.PATH_TOO_LONG,
        `refused path ${JSON.stringify(path.slice(0, 80))}…: with the root it is longer than ${PATH_MAX - 1} bytes`,
      );
    }
    if (this.rules.isIgnored(path, false)) {
      throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(path)}: it is excluded by the project's rules`);
    }
  }

  private run(action: string, path: string, work: () => OpResult): OpResult {
    try {
      this.check(path);
      return work();
    } catch (error) {
      throw toDestinationError(error, action, path);
    }
  }

  /** The entry at `path` now, or null when it (or a folder on its way) is missing. */
  private getEntryAt(path: string): Entry | null {
    try {
      return this.confined.inParent(path, false, (folder, name) => getEntry(folder.at(name), path));
    } catch (error) {
      if (hasErrno(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    }
  }

  /** Also removes the temporary files a killed daemon left, which the scan itself never reports. */
  async scan() {
    const temps: string[] = [];
    const snapshot = await scanTree(this.root, this.rules, '', (path, entry) => {
      if (entry.kind !== 'dir' && isTempName(path)) temps.push(path);
    });
    if (temps.length > 0) this.folderTimes.keepAll(temps, () => sweepTempFiles(this.confined, temps));
    return snapshot;
  }

  async hash(paths: readonly string[]): Promise<Record<string, string | null>> {
    const hashes: Record<string, string | null> = {};
    for (const path of paths) {
      this.check(path);
      // Only regular files, opened without following a symlink, through the confined walk.
      let fd: number | null = null;
      try {
        fd = this.confined.inParent(path, false, (folder, name) => openSync(folder.at(name), HASH_FLAGS));
      } catch (error) {
        // Missing, or a symlink itself (O_NOFOLLOW: ELOOP): no content to compare. A symlinked
        // folder on the way is refused.
        if (!hasErrno(error, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EACCES')) throw error;
      }
      if (fd === null) hashes[path] = null;
      else if (!fstatSync(fd).isFile()) {
        closeSync(fd);
        hashes[path] = null;
      } else hashes[path] = await getFileHash(fd).catch(() => null);
    }
    return hashes;
  }

  mkdir(path: string, mode: number): OpResult {
    return this.run('create folder', path, () =>
      this.confined.inParent(path, true, (folder, name) => {
        // chmod would follow a link; the client deletes a link before putting a folder in its place.
        if (getEntry(folder.at(name), path)?.kind === 'symlink') {
          throw new SicksyncError(ErrorCode.IO, `cannot create folder ${JSON.stringify(path)}: a symlink is in the way`);
        }
        this.folderTimes.keep(path, () => {
          try {
            mkdirSync(folder.at(name), 0o777);
          } catch (error) {
            if (!hasErrno(error, 'EEXIST')) throw error;
          }
        });
        const fd = openSync(folder.at(name), FOLDER_FLAGS); // fails on anything but a real folder
        try {
          fchmodSync(fd, mode);
        } finally {
          closeSync(fd);
        }
        return { entry: getEntry(folder.at(name), path) };
      }),
    );
  }

  symlink(path: string, target: string, mtimeNs: string): OpResult {
    return this.run('create link', path, () => {
      validateLinkTarget(path, target);
      // A new link under a temporary name, renamed over the old one: never a moment without either.
      const temp = basename(getTempPath(path));
      return this.confined.inParent(path, true, (folder, name) => {
        this.folderTimes.keep(path, () => {
          symlinkSync(target, folder.at(temp));
          try {
            lutimesSync(folder.at(temp), toUtimesSeconds(mtimeNs), toUtimesSeconds(mtimeNs));
            renameSync(folder.at(temp), folder.at(name));
          } catch (error) {
            unlinkSync(folder.at(temp));
            throw error;
          }
        });
        return { entry: getEntry(folder.at(name), path) };
      });
    });
  }

  beginWrite(path: string, size: number): AtomicWrite {
    try {
      this.check(path);
      return AtomicWrite.start(this.confined, path, size, this.folderTimes);
    } catch (error) {
      throw toDestinationError(error, 'write', path);
    }
  }

  finishWrite(path: string, write: AtomicWrite, mode: number, mtimeNs: string): OpResult {
    return this.run('write', path, () => {
      write.commit(mode, mtimeNs);
      return { entry: this.getEntryAt(path) };
    });
  }

  meta(path: string, mode: number, mtimeNs: string | null): OpResult {
    return this.run('set times and mode of', path, () =>
      this.confined.inParent(path, false, (folder, name) => {
        const current = getEntry(folder.at(name), path);
        if (!current) throw new SicksyncError(ErrorCode.IO, `cannot set times of ${JSON.stringify(path)}: it is gone`);
        const seconds = mtimeNs === null ? null : toUtimesSeconds(mtimeNs);
        if (current.kind === 'symlink') {
          if (seconds !== null) lutimesSync(folder.at(name), seconds, seconds);
        } else {
          this.confined.setModeAndTimes(folder, name, mode, seconds);
          if (current.kind === 'dir') this.folderTimes.refresh(path);
        }
        return { entry: getEntry(folder.at(name), path) };
      }),
    );
  }

  delete(path: string, expect: Entry | null): OpResult {
    return this.run('delete', path, () => {
      const gone: OpResult = { entry: null, note: 'already gone' };
      let reached = false;
      try {
        return this.confined.inParent(path, false, (folder, name) => {
          reached = true;
          return this.deleteIn(folder, name, path, expect) ?? gone;
        });
      } catch (error) {
        // A folder on the way is gone: so is the entry.
        if (!reached && hasErrno(error, 'ENOENT')) return gone;
        throw error;
      }
    });
  }

  /** The delete itself, in the open folder of `path`; null when there was nothing to delete. */
  private deleteIn(folder: OpenFolder, name: string, path: string, expect: Entry | null): OpResult | null {
    const current = getEntry(folder.at(name), path);
    if (!current) return null;
    if (current.kind === 'dir') {
      try {
        this.folderTimes.keep(path, () => rmdirSync(folder.at(name)));
      } catch (error) {
        if (!hasErrno(error, 'ENOTEMPTY', 'EEXIST')) throw error;
        // What is left was never ours to delete (excluded, or only ever at the destination).
        return { entry: current, note: 'kept: the folder still holds files sicksync does not manage' };
      }
      return { entry: null };
    }
    if (expect && !isExpected(current, expect)) {
      const keep = getConflictPath(path, this.clientName, new Date());
      this.folderTimes.keep(path, () => renameSync(folder.at(name), folder.at(basename(keep))));
      return { entry: null, note: `changed at the destination since the last sync; kept as ${keep}` };
    }
    this.folderTimes.keep(path, () => unlinkSync(folder.at(name)));
    return { entry: null };
  }

  rename(from: string, to: string): OpResult {
    return this.run('move', from, () => {
      this.check(to);
      return this.confined.inParent(from, false, (source, fromName) => {
        lstatSync(source.at(fromName)); // ENOENT names the source, not the target
        return this.confined.inParent(to, true, (target, toName) => {
          this.folderTimes.keep(from, () => this.folderTimes.keep(to, () => renameSync(source.at(fromName), target.at(toName))));
          return { entry: getEntry(target.at(toName), to) };
        });
      });
    });
  }
}
