/**
 * Confinement at the moment of each operation (DESIGN section 6). Every change the daemon makes in
 * a destination goes through an open descriptor of the folder it happens in, reached from the root
 * one component at a time with O_NOFOLLOW: a folder swapped for a symlink a microsecond ago is
 * refused, not followed, and nothing cached can go stale.
 *
 * Node has no openat(), renameat() or unlinkat(); `/proc/self/fd/<fd>/<name>` is their equivalent
 * on Linux: the kernel resolves `/proc/self/fd/<fd>` to the open folder itself (not to a path
 * string) and looks up only `<name>` in it. Before acting, the folder's current path (readlink of
 * its descriptor) must still be where the walk found it; what remains is the microseconds between
 * that check and the call, the window openat() leaves as well (README, "Confinement").
 */
import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, SicksyncError, hasErrno } from '../errors.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
/** Linux's O_PATH (not exported by Node): a handle on the inode itself, for chmod and utimes of it. */
const O_PATH = 0o10000000;
/** libuv opens every descriptor close-on-exec already. */
export const FOLDER_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** A folder of the destination, held open for the length of one operation. */
export interface OpenFolder {
  readonly fd: number;
  /** A path naming `name` inside this very folder, whatever has happened to its path since. */
  at(name: string): string;
}

/**
 * Without /proc (macOS, BSD), names are reached by path from the folder just checked: each
 * operation still checks every folder on its way, with a window between check and use.
 */
const HAS_PROC_FD = existsSync('/proc/self/fd');

function toOpenFolder(fd: number, path: string): OpenFolder {
  return { fd, at: HAS_PROC_FD ? (name) => `/proc/self/fd/${fd}/${name}` : (name) => join(path, name) };
}

function splitParent(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? ['', path] : [path.slice(0, slash), path.slice(slash + 1)];
}

/** A folder kept open after an operation, for the next ones in the same turn of the event loop. */
interface RecentFolder {
  fd: number;
  /** Operations using it now (inFolder calls nest: a rename holds two folders). */
  users: number;
  /** Dropped from the cache while in use: closed when its last user is done. */
  dropped: boolean;
}

/**
 * Folders kept open within one turn of the event loop. The operations of one incoming batch (a
 * first sync, a branch switch: dozens of frames in one read) run in one turn, and walk to their
 * folder once instead of once per operation: a file two folders deep took 8 openat() calls, and
 * now takes 2. Each use still checks that the kept descriptor is where the walk found it
 * (readlink), so a folder moved or deleted meanwhile, by this daemon's own rename or anyone's,
 * is walked to again. At the end of the turn every kept folder is closed: a filesystem mounted
 * over the destination between two batches (a read-only remount, say) is walked into afresh, and
 * an idle daemon holds no folder open.
 */
const RECENT_FOLDERS = 8;

export class ConfinedRoot {
  private readonly recent = new Map<string, RecentFolder>();
  private expiry: NodeJS.Immediate | null = null;

  /** @param root the destination's real path (no symlink in it), as resolved at the handshake */
  constructor(readonly root: string) {}

  /**
   * Runs `work` with the folder `folder` (relative, '' for the root) open. Missing folders are
   * created on the way when `create` is set, otherwise the walk fails with ENOENT; a symlink on the
   * way is refused with SICKSYNC_E_PATH_OUTSIDE_ROOT. `work` must be done with the descriptor when
   * it returns.
   */
  inFolder<T>(folder: string, create: boolean, work: (folder: OpenFolder) => T, forPath = folder): T {
    const expected = folder === '' ? this.root : join(this.root, folder);
    const held = this.takeRecent(folder, expected) ?? this.keep(folder, this.walk(folder, create, expected, forPath));
    held.users += 1;
    try {
      return work(toOpenFolder(held.fd, expected));
    } finally {
      held.users -= 1;
      if (held.dropped && held.users === 0) closeSync(held.fd);
    }
  }

  /** A kept folder that is still where it was found, or null. */
  private takeRecent(folder: string, expected: string): RecentFolder | null {
    const known = this.recent.get(folder);
    if (!known) return null;
    if (readFolderPath(known.fd) === expected) return known;
    this.drop(folder, known);
    return null;
  }

  private keep(folder: string, fd: number): RecentFolder {
    const held: RecentFolder = { fd, users: 0, dropped: false };
    if (!HAS_PROC_FD) {
      // Without /proc a kept descriptor cannot be checked on use: keep none.
      held.dropped = true;
      return held;
    }
    this.recent.set(folder, held);
    for (const [name, old] of this.recent) {
      if (this.recent.size <= RECENT_FOLDERS) break;
      this.drop(name, old);
    }
    this.expiry ??= setImmediate(() => this.closeRecent());
    return held;
  }

  private drop(folder: string, held: RecentFolder): void {
    if (this.recent.get(folder) === held) this.recent.delete(folder);
    if (held.dropped) return;
    held.dropped = true;
    if (held.users === 0) closeSync(held.fd);
  }

  /** Closes every kept folder (at the end of each turn). */
  closeRecent(): void {
    if (this.expiry) clearImmediate(this.expiry);
    this.expiry = null;
    for (const [folder, held] of [...this.recent]) this.drop(folder, held);
  }

  private walk(folder: string, create: boolean, expected: string, forPath: string): number {
    let fd = this.openRoot(forPath);
    try {
      let walked = '';
      for (const segment of folder === '' ? [] : folder.split('/')) {
        const parent = toOpenFolder(fd, join(this.root, walked));
        walked = walked ? `${walked}/${segment}` : segment;
        const next = this.openChild(parent, segment, walked, create, forPath);
        closeSync(fd);
        fd = next;
      }
      // Each step was a real folder when it was opened; one moved away since (out of the root, or
      // deleted) is no place to write. The kernel knows where the open folder is now.
      if (HAS_PROC_FD && readFolderPath(fd) !== expected) {
        throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(forPath)}: its folder was moved while in use`);
      }
      return fd;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The root itself, refused when it was replaced by a symlink since the handshake. */
  private openRoot(forPath: string): number {
    try {
      return openSync(this.root, FOLDER_FLAGS);
    } catch (error) {
      if (hasErrno(error, 'ENOTDIR', 'ELOOP') && isSymlink(this.root)) {
        throw new SicksyncError(
          ErrorCode.PATH_OUTSIDE_ROOT,
          `refused path ${JSON.stringify(forPath)}: the destination folder ${this.root} was replaced by a symlink`,
        );
      }
      throw error;
    }
  }

  /** Runs `work` with the parent folder of `path` open and the last name of `path`. */
  inParent<T>(path: string, create: boolean, work: (folder: OpenFolder, name: string) => T): T {
    const [folder, name] = splitParent(path);
    return this.inFolder(folder, create, (open) => work(open, name), path);
  }

  /**
   * Sets mode and times of the file or folder `name` in `folder` without following a symlink put
   * there: through an O_PATH handle on the inode found, checked to be no symlink.
   */
  setModeAndTimes(folder: OpenFolder, name: string, mode: number | null, seconds: number | null): void {
    const change = (inode: string): void => {
      if (mode !== null) chmodSync(inode, mode);
      if (seconds !== null) utimesSync(inode, seconds, seconds);
    };
    const refuse = (): never => {
      throw new SicksyncError(ErrorCode.IO, `cannot set mode and times of ${JSON.stringify(name)}: it became a symlink`);
    };
    if (!HAS_PROC_FD) {
      if (lstatSync(folder.at(name)).isSymbolicLink()) refuse();
      return change(folder.at(name));
    }
    const fd = openSync(folder.at(name), O_PATH | O_NOFOLLOW);
    try {
      if (fstatSync(fd).isSymbolicLink()) refuse();
      change(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
  }

  private openChild(parent: OpenFolder, segment: string, walked: string, create: boolean, forPath: string): number {
    const path = parent.at(segment);
    try {
      return openSync(path, FOLDER_FLAGS);
    } catch (error) {
      if (hasErrno(error, 'ENOENT') && create) {
        try {
          mkdirSync(path, 0o777);
        } catch (mkdirError) {
          if (!hasErrno(mkdirError, 'EEXIST')) throw mkdirError;
        }
        return this.openChild(parent, segment, walked, false, forPath);
      }
      // O_NOFOLLOW|O_DIRECTORY answers ENOTDIR (or ELOOP) for a symlink: say which it is.
      if (hasErrno(error, 'ENOTDIR', 'ELOOP') && isSymlink(path)) {
        throw new SicksyncError(
          ErrorCode.PATH_OUTSIDE_ROOT,
          `refused path ${JSON.stringify(forPath)}: its parent ${JSON.stringify(walked)} is a symlink`,
        );
      }
      throw error;
    }
  }
}

/** Where the open folder `fd` is now, as the kernel names it (" (deleted)" appended once it is gone). */
function readFolderPath(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
