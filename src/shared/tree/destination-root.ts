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
  copyFileSync,
  linkSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { basename, posix } from 'node:path';
import { getConflictPath } from '../conflict-name.js';
import { hasSameMtime, type Entry } from '../entry.js';
import { ErrorCode, ProtocolError, SicksyncError, TargetChangedError, hasErrno } from '../errors.js';
import type { Guard } from '../plan/types.js';
import { getFileHash } from '../hash.js';
import type { IgnoreRules } from '../ignore-rules.js';
import { PATH_MAX, validateLinkTarget, validateRelativePath } from '../paths.js';
import { scanTree } from '../scan.js';
import { getEntry, toEntry } from '../stat-entry.js';
import { AtomicWrite } from './atomic-write.js';
import { DeltaWrite, computeSignature } from './delta-write.js';
import { getBlockSize } from '../delta.js';
import { ConfinedRoot, FOLDER_FLAGS, type OpenFolder } from './confined-fs.js';
import { toDestinationError } from './fs-errors.js';
import { toUtimesSeconds } from './fs-helpers.js';
import { History, isHistoryPath, type HistoryPolicy } from './history.js';
import { FolderTimesKeeper } from './parent-times.js';
import { getTempPath, isTempName, sweepTempFiles } from './temp-files.js';

export interface OpResult {
  entry: Entry | null;
  note?: string;
  /** The content hash of a small file written, when asked for (never sent: for the tree index). */
  hash?: string;
  /** Content bytes that crossed the connection, when not the file's size (a delta). */
  sent?: number;
}

/** The destination still holds what the client believes it does (same kind, size and mtime). */
function isExpected(current: Entry, expect: Entry): boolean {
  return current.kind === expect.kind && current.size === expect.size && hasSameMtime(current, expect);
}

/** The same file or link version: for files, size and mtime; for links, the target. */
function isSameVersion(current: Entry, incoming: NonNullable<ReplaceOptions['incoming']>): boolean {
  if (current.kind !== incoming.kind) return false;
  if (current.kind === 'symlink') return current.target === incoming.target;
  return current.size === incoming.size && hasSameMtime(current, { ...current, mtimeNs: incoming.mtimeNs });
}

function isAsExpected(current: Entry | null, expect: Entry | null): boolean {
  if (!current || !expect) return current === expect;
  return isExpected(current, expect);
}

/** What replaces or removes a path may also say how (see Guard in plan/types.ts). */
export interface ReplaceOptions {
  /** What is coming: a target that already is it (another client got there first) needs no copy. */
  incoming?: Pick<Entry, 'kind' | 'size' | 'mtimeNs' | 'target'>;
  guard?: Guard | undefined;
  /** Keep what is there under this name, in the same folder (the loser of a keep-both conflict). */
  keepAs?: string | undefined;
}

export interface TreeOptions {
  /** Names conflict copies after the host whose change displaced them. */
  clientName: string;
  /** null: keep no versions. */
  history: HistoryPolicy | null;
  /** Where this tree is, for messages: "at the destination", or "here" for the project itself. */
  place?: string;
}

/** A file to hash: read-only, never through a symlink, and no wait on a FIFO put in its place. */
const HASH_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class DestinationRoot {
  private readonly confined: ConfinedRoot;
  /** Folder times kept while files change inside them. */
  private readonly folderTimes: FolderTimesKeeper;

  private readonly history: History | null;
  private readonly clientName: string;
  private readonly place: string;

  constructor(
    /** The destination's real path: no symlink in it (session.ts resolves it at the handshake). */
    readonly root: string,
    readonly rules: IgnoreRules,
    options: TreeOptions,
  ) {
    this.confined = new ConfinedRoot(root);
    this.folderTimes = FolderTimesKeeper.forRoot(this.confined);
    this.history = options.history ? new History(this.confined, options.history) : null;
    this.clientName = options.clientName;
    this.place = options.place ?? 'at the destination';
  }

  /** The versions kept of `path`, newest first. */
  listVersions(path: string) {
    validateRelativePath(path);
    return this.history?.list(path) ?? new History(this.confined, { versions: 0, days: 0 }).list(path);
  }

  /**
   * Makes way for new content at `name` of `folder`: what is there must be what the guard expects
   * (else it is refused, or kept as a conflict copy, as the guard says); a file about to be replaced
   * is kept, beside it (keepAs) or in the history. Returns a note for the client, if any.
   */
  private makeWay(folder: OpenFolder, name: string, path: string, options: ReplaceOptions): string | undefined {
    const current = getEntry(folder.at(name), path);
    // Another client pushing the same file got there first: no conflict copy of it. Only for
    // one-way guards: size and mtime are no proof of content (mtimes tick by the kernel's jiffy, so
    // two writes of one size at the same moment look alike), and two-way writes must never guess.
    const arrived = options.guard?.ifChanged === 'keep' && current && options.incoming && isSameVersion(current, options.incoming);
    if (options.guard && !isAsExpected(current, options.guard.expect) && !arrived) {
      if (options.guard.ifChanged === 'refuse') throw new TargetChangedError(path, current);
      if (current && current.kind !== 'dir') {
        const keep = getConflictPath(path, this.clientName, new Date());
        const kept = keepCopy(folder, name, basename(keep));
        return `changed ${this.place} since the last sync; kept as ${posix.join(posix.dirname(keep), kept)}`;
      }
    }
    if (!current || current.kind === 'dir') return undefined;
    if (options.keepAs !== undefined) {
      this.checkSibling(path, options.keepAs);
      // The client names the conflict itself (it planned it); a note only when the name was taken.
      const kept = keepCopy(folder, name, basename(options.keepAs));
      return kept === basename(options.keepAs)
        ? undefined
        : `the other version is kept as ${posix.join(posix.dirname(options.keepAs), kept)}`;
    }
    if (current.kind === 'file') this.history?.keep(folder, name, path, false);
    return undefined;
  }

  /** A conflict copy's name: checked as any path, and in the same folder as the file it keeps. */
  private checkSibling(path: string, sibling: string): void {
    this.check(sibling);
    if (posix.dirname(sibling) !== posix.dirname(path)) {
      throw new SicksyncError(ErrorCode.PROTOCOL, `a copy of ${JSON.stringify(path)} must be kept in the same folder`);
    }
  }

  /** Opens a regular file to read, when it still is what `expect` says (size and mtime). */
  openForRead(path: string, expect: Pick<Entry, 'size' | 'mtimeNs'>): number {
    try {
      // A version kept in the history may be read (to restore it), though it is never synced.
      if (isHistoryPath(path)) validateRelativePath(path);
      else this.check(path);
      const fd = this.confined.inParent(path, false, (folder, name) => openSync(folder.at(name), HASH_FLAGS));
      const stats = fstatSync(fd, { bigint: true });
      if (!stats.isFile() || Number(stats.size) !== expect.size || stats.mtimeNs.toString() !== expect.mtimeNs) {
        closeSync(fd);
        throw new SicksyncError(ErrorCode.SOURCE_CHANGED, `${path} changed ${this.place} before it could be read`);
      }
      return fd;
    } catch (error) {
      if (hasErrno(error, 'ENOENT', 'ENOTDIR', 'ELOOP')) {
        throw new SicksyncError(ErrorCode.SOURCE_CHANGED, `${path} is gone ${this.place}`);
      }
      throw toDestinationError(error, 'read', path, this.place);
    }
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
      throw toDestinationError(error, action, path, this.place);
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
    const snapshot = await scanTree(this.root, this.rules, {
      onIgnored: (path, entry) => {
        if (entry.kind !== 'dir' && isTempName(path)) temps.push(path);
      },
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

  symlink(path: string, target: string, mtimeNs: string, options: ReplaceOptions = {}): OpResult {
    return this.run('create link', path, () => {
      validateLinkTarget(path, target);
      // A new link under a temporary name, renamed over the old one: never a moment without either.
      const temp = basename(getTempPath(path));
      return this.confined.inParent(path, true, (folder, name) => {
        let note: string | undefined;
        let made: Entry | null = null;
        this.folderTimes.keep(path, () => {
          symlinkSync(target, folder.at(temp));
          try {
            lutimesSync(folder.at(temp), toUtimesSeconds(mtimeNs), toUtimesSeconds(mtimeNs));
            // Ours, as made: a stat after the rename could see whatever replaced it since.
            made = getEntry(folder.at(temp), path);
            note = this.makeWay(folder, name, path, { ...options, incoming: { kind: 'symlink', size: 0, mtimeNs, target } });
            renameSync(folder.at(temp), folder.at(name));
          } catch (error) {
            unlinkSync(folder.at(temp));
            throw error;
          }
        });
        return { entry: made, ...(note ? { note } : {}) };
      });
    });
  }

  beginWrite(path: string, size: number): AtomicWrite {
    try {
      this.check(path);
      return AtomicWrite.start(this.confined, path, size, this.folderTimes);
    } catch (error) {
      throw toDestinationError(error, 'write', path, this.place);
    }
  }

  /** The delta signature of the file at `path`, which must still be `expect` (size and mtime). */
  async signature(path: string, expect: Pick<Entry, 'size' | 'mtimeNs'>): Promise<{ blockSize: number; encoded: Buffer }> {
    const fd = this.openForRead(path, expect);
    try {
      return await computeSignature(fd, { path, ...expect, place: this.place });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A new version of `path` built from the one there (`base`, which must still be there as the
   * client saw it) and the client's delta instructions.
   */
  beginDeltaWrite(path: string, size: number, base: Pick<Entry, 'size' | 'mtimeNs'>, blockSize: number): DeltaWrite {
    if (blockSize !== getBlockSize(base.size)) {
      throw new ProtocolError(`a delta against a ${base.size}-byte file uses ${getBlockSize(base.size)}-byte blocks, not ${blockSize}`);
    }
    const baseFd = this.openForRead(path, base);
    try {
      const target = this.beginWrite(path, size);
      return new DeltaWrite(target, baseFd, { path, ...base, place: this.place }, blockSize);
    } catch (error) {
      closeSync(baseFd);
      throw error;
    }
  }

  /** A small file whose content is all here (AtomicWrite.writeWhole): written in one step. */
  writeWhole(path: string, content: Uint8Array, mode: number, mtimeNs: string, options: ReplaceOptions = {}): OpResult {
    return this.run('write', path, () => {
      let note: string | undefined;
      const written = AtomicWrite.writeWhole(this.confined, path, content, { mode, mtimeNs }, this.folderTimes, (folder, name) => {
        note = this.makeWay(folder, name, path, { ...options, incoming: { kind: 'file', size: content.length, mtimeNs } });
      });
      return { entry: toEntry(written, path), ...(note ? { note } : {}) };
    });
  }

  finishWrite(path: string, write: AtomicWrite | DeltaWrite, mode: number, mtimeNs: string, options: ReplaceOptions = {}): OpResult {
    return this.run('write', path, () => {
      let note: string | undefined;
      const written = write.commit(mode, mtimeNs, (folder, name) => {
        note = this.makeWay(folder, name, path, { ...options, incoming: { kind: 'file', size: write.size, mtimeNs } });
      });
      const hash = write.contentHash;
      return { entry: toEntry(written, path), ...(note ? { note } : {}), ...(hash ? { hash } : {}) };
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

  delete(path: string, guard: Guard | null): OpResult {
    return this.run('delete', path, () => {
      const gone: OpResult = { entry: null, note: 'already gone' };
      let reached = false;
      try {
        return this.confined.inParent(path, false, (folder, name) => {
          reached = true;
          return this.deleteIn(folder, name, path, guard) ?? gone;
        });
      } catch (error) {
        // A folder on the way is gone: so is the entry.
        if (!reached && hasErrno(error, 'ENOENT')) return gone;
        throw error;
      }
    });
  }

  /** The delete itself, in the open folder of `path`; null when there was nothing to delete. */
  private deleteIn(folder: OpenFolder, name: string, path: string, guard: Guard | null): OpResult | null {
    const current = getEntry(folder.at(name), path);
    if (!current) return null;
    const expect = guard?.expect ?? null;
    // A folder is only removed empty (rmdir), so its own changes need no check.
    if (guard?.ifChanged === 'refuse' && expect && current.kind !== 'dir' && !isExpected(current, expect))
      throw new TargetChangedError(path, current);
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
      let kept = basename(keep);
      // A link then an unlink, not a rename: rename would replace a copy already under that name.
      this.folderTimes.keep(path, () => {
        kept = keepCopy(folder, name, kept);
        unlinkSync(folder.at(name));
      });
      return { entry: null, note: `changed ${this.place} since the last sync; kept as ${posix.join(posix.dirname(keep), kept)}` };
    }
    this.folderTimes.keep(path, () => {
      // A deleted file goes into the history instead (a link has no content to keep).
      if (current.kind === 'file' && this.history?.keep(folder, name, path, true)) return;
      unlinkSync(folder.at(name));
    });
    return { entry: null };
  }

  rename(from: string, to: string): OpResult {
    return this.run('move', from, () => {
      this.check(to);
      return this.confined.inParent(from, false, (source, fromName) => {
        const moving = lstatSync(source.at(fromName)); // ENOENT names the source, not the target
        // A link's target is read from where the link is: moved higher up, `..` climbs further.
        if (moving.isSymbolicLink()) validateLinkTarget(to, readlinkSync(source.at(fromName)));
        else if (moving.isDirectory() && depthOf(to) < depthOf(from)) checkLinksMovedUp(source.at(fromName), to);
        return this.confined.inParent(to, true, (target, toName) => {
          // rename(2) would replace what is there: something that appeared since the plan is not ours to replace.
          const there = getEntry(target.at(toName), to);
          if (there) throw new TargetChangedError(to, there);
          this.folderTimes.keep(from, () => this.folderTimes.keep(to, () => renameSync(source.at(fromName), target.at(toName))));
          return { entry: getEntry(target.at(toName), to) };
        });
      });
    });
  }
}

/**
 * Keeps the file `name` also as `copy` in the same folder: a hard link (a copy where links are
 * refused). A name already taken (two conflicts on one file within a second) gets `-2`, `-3`, ...
 * before its extension. Returns the name used.
 */
function keepCopy(folder: OpenFolder, name: string, copy: string): string {
  const dot = copy.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [copy.slice(0, dot), copy.slice(dot)] : [copy, ''];
  for (let attempt = 1; ; attempt += 1) {
    const candidate = attempt === 1 ? copy : `${stem}-${attempt}${ext}`;
    try {
      linkSync(folder.at(name), folder.at(candidate));
      return candidate;
    } catch (error) {
      if (hasErrno(error, 'EEXIST') && attempt < 1000) continue;
      if (!hasErrno(error, 'EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP')) throw error;
      copyFileSync(folder.at(name), folder.at(candidate), constants.COPYFILE_EXCL);
      return candidate;
    }
  }
}

const depthOf = (path: string): number => path.split('/').length;

/**
 * Every link in the folder at `folder` (an absolute path through the confined walk), as it would be
 * once the folder is at `to`: a folder moved up takes its `..` links up with it, and one that led
 * to the root's top could then lead above it. Refused like any such link.
 */
function checkLinksMovedUp(folder: string, to: string): void {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = `${to}/${entry.name}`;
    const absolute = `${folder}/${entry.name}`;
    if (entry.isSymbolicLink()) validateLinkTarget(path, readlinkSync(absolute));
    else if (entry.isDirectory()) checkLinksMovedUp(absolute, path);
  }
}
