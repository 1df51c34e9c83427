/**
 * The client's half of a delta transfer (../../shared/delta.ts): given the signature of the file
 * at the destination, turns the local file into instructions, "copy blocks i..j" for what the
 * destination has already (at any offset: an insertion shifts the rest, it does not resend it)
 * and the bytes of what it has not.
 *
 * The local file's block-aligned strong hashes are computed while the destination computes its
 * signature, each side on its own core; the walk then reads the file only where blocks did not
 * line up, so an edit in place inside a 1 GiB file costs one read of it on each side and the
 * changed bytes on the wire.
 */
import { fstat as fstatCallback } from 'node:fs';
import { promisify } from 'node:util';
import { READ_SPAN, forEachBlock, readRange } from '../../shared/block-reader.js';
import type { Entry } from '../../shared/entry.js';
import {
  DATA_HEADER_BYTES,
  WEAK_SPAN,
  encodeCopy,
  encodeDataHeader,
  getBlockCount,
  getStrongHash,
  getWeakHash,
  isSameStrong,
  rollWeakHash,
  type Signature,
} from '../../shared/delta.js';
import { CHUNK_SIZE } from '../../shared/protocol.js';
import { SourceChangedError } from './endpoint.js';

const fstatAsync = promisify(fstatCallback);

const shrank = () => new SourceChangedError('the file shrank while it was read');

function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  return readRange(fd, position, length, shrank);
}

/** Strong hashes of the local file's blocks at multiples of `blockSize`: 16 bytes each. */
export async function hashAlignedBlocks(fd: number, size: number, blockSize: number): Promise<Buffer> {
  const hashes = Buffer.allocUnsafe(getBlockCount(size, blockSize) * 16);
  await forEachBlock(fd, size, blockSize, shrank, (block, index) => getStrongHash(block).copy(hashes, index * 16));
  return hashes;
}

/** A window on the file, read ahead in spans, addressed by file offset. */
class FileWindow {
  private buffer: Buffer = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  has(position: number, length: number): boolean {
    return position >= this.start && position + length <= this.start + this.buffer.length;
  }

  /** Makes [position, position + length) readable, reading from `position` on. */
  async ensure(position: number, length: number): Promise<void> {
    if (this.has(position, length)) return;
    const span = Math.min(Math.max(length, READ_SPAN), this.size - position);
    this.buffer = await readAt(this.fd, position, span);
    this.start = position;
  }

  byteAt(position: number): number {
    return this.buffer[position - this.start]!;
  }

  slice(position: number, length: number): Buffer {
    return this.buffer.subarray(position - this.start, position - this.start + length);
  }
}

/** Gathers instructions into pieces of at most CHUNK_SIZE bytes for `emit`. */
class InstructionWriter {
  private parts: Buffer[] = [];
  private bytes = 0;
  private run: { first: number; count: number } | null = null;
  /** Bytes of the new file the instructions make so far. */
  produced = 0;

  constructor(
    private readonly emit: (piece: Buffer) => Promise<void>,
    private readonly blockLength: (block: number) => number,
  ) {}

  async copy(block: number): Promise<void> {
    this.produced += this.blockLength(block);
    if (this.run && this.run.first + this.run.count === block) {
      this.run.count += 1;
      return;
    }
    await this.endRun();
    this.run = { first: block, count: 1 };
  }

  async data(content: Buffer): Promise<void> {
    await this.endRun();
    this.produced += content.length;
    await this.push(encodeDataHeader(content.length));
    await this.push(content);
  }

  private async endRun(): Promise<void> {
    if (!this.run) return;
    const { first, count } = this.run;
    this.run = null;
    await this.push(encodeCopy(first, count));
  }

  private async push(part: Buffer): Promise<void> {
    this.parts.push(part);
    this.bytes += part.length;
    if (this.bytes >= CHUNK_SIZE) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const piece = Buffer.concat(this.parts);
    this.parts = [];
    this.bytes = 0;
    await this.emit(piece);
  }

  async finish(): Promise<void> {
    await this.endRun();
    await this.flush();
  }
}

/** Literal bytes go out in DATA records that fit a frame with their header. */
const DATA_PIECE = CHUNK_SIZE - DATA_HEADER_BYTES;

/**
 * Writes the instructions that rebuild `entry` (open as `fd`) from the file `signature`
 * describes; `aligned` holds the local file's aligned block hashes (hashAlignedBlocks).
 */
export async function encodeDelta(
  fd: number,
  entry: Entry,
  signature: Signature,
  aligned: Buffer,
  emit: (piece: Buffer) => Promise<void>,
): Promise<{ literalBytes: number }> {
  const { size } = entry;
  const { blockSize } = signature;
  const blocks = signature.weak.length;
  const blockLength = (block: number): number => Math.min(blockSize, signature.size - block * blockSize);
  // Candidates by weak hash; a last block shorter than the weak span is only found in sequence.
  const table = new Map<number, number[]>();
  for (let block = 0; block < blocks; block++) {
    if (blockLength(block) < WEAK_SPAN) continue;
    const weak = signature.weak[block]!;
    const known = table.get(weak);
    if (known) known.push(block);
    else table.set(weak, [block]);
  }
  const window = new FileWindow(fd, size);
  const out = new InstructionWriter(emit, blockLength);
  let literalBytes = 0;
  const literal = async (from: number, to: number): Promise<void> => {
    for (let at = from; at < to; at += DATA_PIECE) {
      const length = Math.min(DATA_PIECE, to - at);
      await out.data(await readAt(fd, at, length));
      literalBytes += length;
    }
  };
  const hashAt = async (position: number, length: number): Promise<Buffer> => {
    if (position % blockSize === 0 && Math.min(blockSize, size - position) === length) {
      const block = position / blockSize;
      return aligned.subarray(block * 16, block * 16 + 16);
    }
    await window.ensure(position, length);
    return getStrongHash(window.slice(position, length));
  };
  /** The next place at or after `from` where a block of the signature starts, or null. */
  const search = async (from: number): Promise<{ at: number; block: number } | null> => {
    if (from + WEAK_SPAN > size) return null;
    await window.ensure(from, WEAK_SPAN);
    let weak = getWeakHash(window.slice(from, WEAK_SPAN), 0);
    for (let at = from; ; at++) {
      const candidates = table.get(weak);
      if (candidates) {
        for (const block of candidates) {
          const length = blockLength(block);
          if (at + length <= size && isSameStrong(signature, block, await hashAt(at, length))) return { at, block };
        }
      }
      if (at + WEAK_SPAN >= size) return null;
      if (!window.has(at, WEAK_SPAN + 1)) await window.ensure(at, WEAK_SPAN + 1);
      weak = rollWeakHash(weak, window.byteAt(at), window.byteAt(at + WEAK_SPAN));
    }
  };

  let position = 0;
  let literalFrom = 0;
  let expect = 0;
  while (position < size) {
    // Blocks usually follow one another: try the next one where it would be before searching.
    if (expect < blocks) {
      const length = blockLength(expect);
      if (position + length <= size && isSameStrong(signature, expect, await hashAt(position, length))) {
        await literal(literalFrom, position);
        await out.copy(expect);
        position += length;
        literalFrom = position;
        expect += 1;
        continue;
      }
    }
    const found = await search(position);
    if (!found) break;
    await literal(literalFrom, found.at);
    await out.copy(found.block);
    position = found.at + blockLength(found.block);
    literalFrom = position;
    expect = found.block + 1;
  }
  await literal(literalFrom, size);
  await out.finish();
  if (out.produced !== size) throw new SourceChangedError(`${entry.path} changed while its delta was computed`);
  const stats = await fstatAsync(fd, { bigint: true });
  if (Number(stats.size) !== size || stats.mtimeNs.toString() !== entry.mtimeNs) {
    throw new SourceChangedError(`${entry.path} changed while its delta was computed`);
  }
  return { literalBytes };
}
