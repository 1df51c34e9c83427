/**
 * The destination's half of a delta transfer (../delta.ts): the signature of the file it has, and
 * a write that rebuilds the new version from blocks of that file and bytes the client sends.
 * Both read the old file through a descriptor opened once, checked to be the version the client
 * planned against; the new version is an AtomicWrite like any other, so it appears whole or not
 * at all, and the old file is untouched until the rename.
 */
import { closeSync, fstatSync } from 'node:fs';
import { ErrorCode, ProtocolError, SicksyncError } from '../errors.js';
import {
  COPY,
  COPY_BYTES,
  DATA,
  DATA_HEADER_BYTES,
  SIGNATURE_ENTRY,
  getBlockCount,
  getBlockSize,
  getStrongHash,
  getWeakHash,
} from '../delta.js';
import { READ_SPAN, forEachBlock, readRange } from '../block-reader.js';
import type { AtomicWrite } from './atomic-write.js';
import type { OpenFolder } from './confined-fs.js';
import type { BigIntStats } from 'node:fs';

/** Fails unless the file behind `fd` is still what it was when opened (size and mtime). */
function checkUnchanged(fd: number, size: number, mtimeNs: string, path: string, place: string): void {
  const stats = fstatSync(fd, { bigint: true });
  if (Number(stats.size) !== size || stats.mtimeNs.toString() !== mtimeNs) {
    throw new SicksyncError(ErrorCode.SOURCE_CHANGED, `${path} changed ${place} while it was read`);
  }
}

/**
 * The encoded signature (delta.ts decodeSignature reads it) of the open file `fd`, read in the
 * thread pool so other clients go on.
 */
export async function computeSignature(
  fd: number,
  file: { path: string; size: number; mtimeNs: string; place: string },
): Promise<{ blockSize: number; encoded: Buffer }> {
  const blockSize = getBlockSize(file.size);
  const encoded = Buffer.allocUnsafe(getBlockCount(file.size, blockSize) * SIGNATURE_ENTRY);
  const changed = () => new SicksyncError(ErrorCode.SOURCE_CHANGED, `${file.path} changed ${file.place} while it was read`);
  await forEachBlock(fd, file.size, blockSize, changed, (block, index) => {
    encoded.writeUInt32BE(getWeakHash(block, 0), index * SIGNATURE_ENTRY);
    getStrongHash(block).copy(encoded, index * SIGNATURE_ENTRY + 4);
  });
  checkUnchanged(fd, file.size, file.mtimeNs, file.path, file.place);
  return { blockSize, encoded };
}

/**
 * A new version built from instructions. The instructions arrive in pieces (a frame each) and a
 * record may be split between two; what is left of one is kept for the next piece.
 */
export class DeltaWrite {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of a DATA record still to come. */
  private dataLeft = 0;
  private readonly blockCount: number;
  private closedBase = false;

  constructor(
    private readonly target: AtomicWrite,
    /** The old version, open and checked to be `base`. */
    private readonly baseFd: number,
    private readonly base: { path: string; size: number; mtimeNs: string; place: string },
    private readonly blockSize: number,
  ) {
    this.blockCount = getBlockCount(base.size, blockSize);
  }

  get size(): number {
    return this.target.size;
  }

  get contentHash(): string | undefined {
    return this.target.contentHash;
  }

  hashContent(): void {
    this.target.hashContent();
  }

  async append(bytes: Uint8Array): Promise<void> {
    let input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    while (input.length > 0) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, input.length);
        await this.target.append(input.subarray(0, take));
        this.dataLeft -= take;
        input = input.subarray(take);
        continue;
      }
      // A record's header: gather its bytes first if this piece ends inside it.
      const head = this.pending.length > 0 ? Buffer.concat([this.pending, input]) : input;
      const opcode = head[0];
      const needed = opcode === COPY ? COPY_BYTES : opcode === DATA ? DATA_HEADER_BYTES : -1;
      if (needed < 0) throw new ProtocolError(`unknown delta instruction ${opcode}`);
      if (head.length < needed) {
        this.pending = Buffer.from(head);
        return;
      }
      const consumed = needed - this.pending.length;
      this.pending = Buffer.alloc(0);
      input = input.subarray(consumed);
      if (opcode === DATA) {
        this.dataLeft = head.readUInt32BE(1);
        if (this.dataLeft === 0) throw new ProtocolError('an empty DATA instruction');
      } else {
        await this.copyBlocks(head.readUInt32BE(1), head.readUInt32BE(5));
      }
    }
  }

  private async copyBlocks(first: number, count: number): Promise<void> {
    if (count === 0 || first >= this.blockCount || count > this.blockCount - first) {
      throw new ProtocolError(`delta asks for blocks ${first}-${first + count - 1} of a file of ${this.blockCount}`);
    }
    const start = first * this.blockSize;
    const end = Math.min((first + count) * this.blockSize, this.base.size);
    // More than the new file takes is refused by AtomicWrite.append before anything is read.
    if (this.target.bytesWritten + (end - start) > this.target.size) {
      throw new ProtocolError(`delta copies more bytes than the announced ${this.target.size}`);
    }
    const changed = () =>
      new SicksyncError(ErrorCode.SOURCE_CHANGED, `${this.base.path} changed ${this.base.place} while a new version was built from it`);
    for (let offset = start; offset < end; offset += READ_SPAN) {
      await this.target.append(await readRange(this.baseFd, offset, Math.min(READ_SPAN, end - offset), changed));
    }
  }

  commit(mode: number, mtimeNs: string, beforeReplace?: (folder: OpenFolder, name: string) => void): BigIntStats {
    try {
      if (this.pending.length > 0 || this.dataLeft > 0) throw new ProtocolError('the delta ended inside an instruction');
      // The blocks copied must be the version planned against, to the end: checked before the rename.
      checkUnchanged(this.baseFd, this.base.size, this.base.mtimeNs, this.base.path, this.base.place);
    } catch (error) {
      this.abort();
      throw error;
    }
    this.closeBase();
    return this.target.commit(mode, mtimeNs, beforeReplace);
  }

  abort(): void {
    this.closeBase();
    this.target.abort();
  }

  private closeBase(): void {
    if (this.closedBase) return;
    this.closedBase = true;
    closeSync(this.baseFd);
  }
}
