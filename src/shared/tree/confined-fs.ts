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

export class ConfinedRoot {
  /** @param root the destination's real path (no symlink in it), as resolved at the handshake */
  constructor(readonly root: string) {}

  /**
   * Runs `work` with the folder `folder` (relative, '' for the root) open. Missing folders are
   * created on the way when `create` is set, otherwise the walk fails with ENOENT; a symlink on the
   * way is refused with SICKSYNC_E_PATH_OUTSIDE_ROOT.
   */
  inFolder<T>(folder: string, create: boolean, work: (folder: OpenFolder) => T, forPath = folder): T {
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
      const expected = join(this.root, walked);
      // Each step was a real folder when it was opened; one moved away since (out of the root, or
      // deleted) is no place to write. The kernel knows where the open folder is now.
      if (HAS_PROC_FD && readlinkSync(`/proc/self/fd/${fd}`) !== expected) {
        throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(forPath)}: its folder was moved while in use`);
      }
      return work(toOpenFolder(fd, expected));
    } finally {
      closeSync(fd);
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

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
