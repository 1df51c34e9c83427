/**
 * A file written at a destination appears whole or not at all: bytes go to a temporary file in the
 * same folder (same filesystem, so rename is atomic), which replaces the target only when complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, SicksyncError } from '../shared/errors.js';
import type { BigIntStats } from 'node:fs';
import { readParentTimes, restoreParentTimes } from './parent-times.js';

export function getTempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.sicksync-tmp-${randomBytes(6).toString('hex')}`);
}

export class AtomicWrite {
  private written = 0;

  private constructor(
    private readonly target: string,
    private readonly temp: string,
    private readonly handle: FileHandle,
    private readonly size: number,
    /** Taken before the temporary file appears in the folder, and put back once it is gone. */
    private readonly parentTimes: BigIntStats | null,
  ) {}

  static async start(target: string, size: number): Promise<AtomicWrite> {
    const temp = getTempPath(target);
    await mkdir(dirname(target), { recursive: true });
    const parentTimes = await readParentTimes(target);
    const handle = await open(temp, 'wx', 0o600);
    return new AtomicWrite(target, temp, handle, size, parentTimes);
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.written + bytes.length > this.size) {
      throw new SicksyncError(ErrorCode.PROTOCOL, `more bytes than the announced ${this.size} for ${basename(this.target)}`);
    }
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    this.written += bytes.length;
  }

  /** Sets mode and mtime on the temporary file, then renames it over the target. */
  async commit(mode: number, mtimeNs: string): Promise<void> {
    if (this.written !== this.size) {
      await this.abort();
      throw new SicksyncError(ErrorCode.PROTOCOL, `received ${this.written} of ${this.size} bytes for ${basename(this.target)}`);
    }
    try {
      await this.handle.chmod(mode);
      const seconds = Number(BigInt(mtimeNs)) / 1e9;
      await this.handle.utimes(seconds, seconds);
    } finally {
      await this.handle.close();
    }
    await rename(this.temp, this.target);
    await restoreParentTimes(this.target, this.parentTimes);
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.temp, { force: true });
    await restoreParentTimes(this.target, this.parentTimes);
  }
}
