/**
 * A file written at a destination appears whole or not at all: bytes go to a temporary file in the
 * same folder (same filesystem, so rename is atomic), which replaces the target only when complete.
 * The folder's own times are read before the temporary file appears and put back once it is gone.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  futimesSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { write as writeAsync } from 'node:fs';
import { promisify } from 'node:util';
import { basename, join } from 'node:path';
import type { Hash } from 'node:crypto';
import { ErrorCode, SicksyncError } from '../errors.js';
import { ECHO_CHECK_MAX, createContentHash } from '../hash.js';
import type { ConfinedRoot, OpenFolder } from './confined-fs.js';
import { toUtimesSeconds } from './fs-helpers.js';
import type { FolderTimesKeeper } from './parent-times.js';
import { getTempPath, holdTempFile } from './temp-files.js';

/** O_EXCL: never through something already there, a symlink included. */
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

const writeChunk = promisify(writeAsync);

/** Largest content writeWhole() takes: what a blocking write may cost the daemon's other clients. */
export const WHOLE_WRITE_MAX = 64 * 1024;

export class AtomicWrite {
  private written = 0;
  private closed = false;
  /** Set to hash what is written (see TreeIndex.noteApplied); only for small files. */
  private digest: Hash | null = null;

  private constructor(
    private readonly confined: ConfinedRoot,
    /** Relative to the root. */
    private readonly target: string,
    /** The temporary file's name, in the target's folder. */
    private readonly temp: string,
    private readonly fd: number,
    readonly size: number,
    /** Holds the folder's times from before the temporary file appears until it is gone. */
    private readonly releaseFolder: () => void,
    /** Keeps the sweep of stale temporary files away from this one while it is written. */
    private readonly releaseTemp: () => void,
  ) {}

  /** Hashes the content as it is written, when it is small enough to be checked again later. */
  hashContent(): void {
    if (this.size <= ECHO_CHECK_MAX && this.written === 0) this.digest = createContentHash();
  }

  /** Bytes appended so far. */
  get bytesWritten(): number {
    return this.written;
  }

  /** The hash of what was written, when hashContent() was asked for. */
  get contentHash(): string | undefined {
    return this.digest?.copy().digest('hex');
  }

  /**
   * Opens the temporary file through the confined walk (its folders created on the way); the
   * rename at commit walks again, so a folder swapped for a symlink meanwhile is refused then.
   */
  static start(confined: ConfinedRoot, target: string, size: number, folders: FolderTimesKeeper): AtomicWrite {
    const tempPath = getTempPath(target);
    const temp = basename(tempPath);
    const release = folders.hold(target);
    const releaseTemp = holdTempFile(join(confined.root, tempPath));
    try {
      const fd = confined.inParent(target, true, (folder) => openSync(folder.at(temp), TEMP_FLAGS, 0o600));
      return new AtomicWrite(confined, target, temp, fd, size, release, releaseTemp);
    } catch (error) {
      release();
      releaseTemp();
      throw error;
    }
  }

  /**
   * Appends bytes. Content goes through the thread pool (a slow disk must not stall the daemon's
   * other clients); a chunk that fits the page cache is written directly.
   */
  async append(bytes: Uint8Array): Promise<void> {
    if (this.written + bytes.length > this.size) {
      throw new SicksyncError(ErrorCode.PROTOCOL, `more bytes than the announced ${this.size} for ${basename(this.target)}`);
    }
    this.digest?.update(bytes);
    let offset = 0;
    while (offset < bytes.length) {
      offset +=
        bytes.length <= WHOLE_WRITE_MAX
          ? writeSync(this.fd, bytes, offset, bytes.length - offset)
          : (await writeChunk(this.fd, bytes, offset, bytes.length - offset)).bytesWritten;
    }
    this.written += bytes.length;
  }

  /**
   * Sets mode and mtime on the temporary file, then renames it over the target. `beforeReplace`
   * runs in the target's open folder just before: it may refuse, or keep what is there. Returns
   * the stats of the file written, taken from its descriptor before the rename: a stat of the path
   * afterwards could already see someone else's write there and take it for ours.
   */
  commit(mode: number, mtimeNs: string, beforeReplace?: (folder: OpenFolder, name: string) => void): BigIntStats {
    if (this.written !== this.size) {
      this.abort();
      throw new SicksyncError(ErrorCode.PROTOCOL, `received ${this.written} of ${this.size} bytes for ${basename(this.target)}`);
    }
    let written: BigIntStats;
    try {
      fchmodSync(this.fd, mode);
      const seconds = toUtimesSeconds(mtimeNs);
      futimesSync(this.fd, seconds, seconds);
      written = fstatSync(this.fd, { bigint: true });
    } finally {
      this.closeFile();
    }
    try {
      this.confined.inParent(this.target, false, (folder, name) => {
        try {
          beforeReplace?.(folder, name);
          renameSync(folder.at(this.temp), folder.at(name));
        } catch (error) {
          removeQuietly(folder.at(this.temp));
          throw error;
        }
      });
    } finally {
      this.releaseFolder();
      this.releaseTemp();
    }
    return written;
  }

  /**
   * A whole small file in one step, as commit() leaves it, with a single walk to its folder: the
   * temporary file, its content, mode and times, the folder's own times and the rename all go
   * through the one open folder. A first sync of 20,000 small files is mostly this: it took four
   * walks (open, rename, and reading and putting back the folder's times) per file before.
   * Synchronous from start to end, so no sweep of temporary files can meet this one half-written.
   */
  static writeWhole(
    confined: ConfinedRoot,
    target: string,
    content: Uint8Array,
    file: { mode: number; mtimeNs: string },
    folders: FolderTimesKeeper,
    beforeReplace?: (folder: OpenFolder, name: string) => void,
  ): BigIntStats {
    if (content.length > WHOLE_WRITE_MAX) throw new RangeError(`writeWhole takes files up to ${WHOLE_WRITE_MAX} bytes`);
    const temp = basename(getTempPath(target));
    return confined.inParent(target, true, (folder, name) =>
      folders.keepIn(target, folder, () => {
        const tempPath = folder.at(temp);
        const fd = openSync(tempPath, TEMP_FLAGS, 0o600);
        let written: BigIntStats;
        try {
          try {
            for (let offset = 0; offset < content.length;) offset += writeSync(fd, content, offset, content.length - offset);
            fchmodSync(fd, file.mode);
            const seconds = toUtimesSeconds(file.mtimeNs);
            futimesSync(fd, seconds, seconds);
            written = fstatSync(fd, { bigint: true });
          } finally {
            closeSync(fd);
          }
          beforeReplace?.(folder, name);
          renameSync(tempPath, folder.at(name));
        } catch (error) {
          removeQuietly(tempPath);
          throw error;
        }
        return written;
      }),
    );
  }

  /** Closes the descriptor once: closing it twice could close a file that reused its number. */
  private closeFile(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  abort(): void {
    try {
      this.closeFile();
    } catch {
      // Nothing more to do with it.
    }
    try {
      this.confined.inParent(this.target, false, (folder) => removeQuietly(folder.at(this.temp)));
    } catch {
      // Its folder is gone or was swapped: the temporary file went with it, or the next scan sweeps it.
    }
    this.releaseFolder();
    this.releaseTemp();
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}
