/**
 * Delta transfer of large files, after rsync's algorithm (Tridgell and Mackerras, 1996): the
 * destination describes the file it has as a list of blocks (a weak hash that can roll and a
 * strong one), the client finds those blocks in its new version at any offset and sends only
 * what it cannot find, as instructions: "copy blocks i..j of your file", "here are n new bytes".
 *
 * One change from rsync: the weak hash covers only the first WEAK_SPAN bytes of a block, not all
 * of it. Both sides then compute weak hashes in JavaScript for a few bytes per block instead of
 * every byte of the file; every candidate is confirmed by the strong hash (SHA-256, which the CPU
 * computes at over 1 GB/s), so a weaker pre-filter costs a few more strong hashes, never a wrong
 * block.
 */
import { createHash } from 'node:crypto';
import { ProtocolError } from './errors.js';

/** Files from this size on are sent as a delta against the destination's version, when it has one. */
export const DELTA_MIN_SIZE = 1024 * 1024;

/** Bytes of a block the weak hash covers. */
export const WEAK_SPAN = 64;

/** Bytes per block in an encoded signature: a weak hash (uint32, big-endian), then the first 16 bytes of a SHA-256. */
export const SIGNATURE_ENTRY = 20;
const STRONG_BYTES = 16;

/** Most blocks in a signature: it must fit one frame (CHUNK_SIZE) with room to spare. */
export const MAX_BLOCKS = 50_000;

/**
 * rsync's choice: about the square root of the file size (a 1 GiB file in 32 KiB blocks), at least
 * 4 KiB, and large enough that the signature stays under MAX_BLOCKS; a multiple of 1 KiB.
 */
export function getBlockSize(fileSize: number): number {
  const size = Math.max(4096, Math.sqrt(fileSize), fileSize / MAX_BLOCKS);
  return Math.ceil(size / 1024) * 1024;
}

export function getBlockCount(fileSize: number, blockSize: number): number {
  return Math.ceil(fileSize / blockSize);
}

// A polynomial hash over WEAK_SPAN bytes, rolled one byte at a time in 32-bit arithmetic.
const BASE = 0x01000193;
/** BASE^(WEAK_SPAN - 1) mod 2^32: what the byte leaving the window weighed. */
const OUTGOING = (() => {
  let power = 1;
  for (let i = 0; i < WEAK_SPAN - 1; i++) power = Math.imul(power, BASE);
  return power;
})();

/** The weak hash of bytes [start, start + WEAK_SPAN) of `data` (fewer at its end). */
export function getWeakHash(data: Uint8Array, start: number): number {
  const end = Math.min(start + WEAK_SPAN, data.length);
  let hash = 0;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, BASE) + data[i]!) | 0;
  return hash >>> 0;
}

/** The weak hash of the window one byte on: `leaving` drops out, `entering` comes in. */
export function rollWeakHash(hash: number, leaving: number, entering: number): number {
  return (Math.imul((hash - Math.imul(leaving, OUTGOING)) | 0, BASE) + entering) >>> 0;
}

export function getStrongHash(block: Uint8Array): Buffer {
  return createHash('sha256').update(block).digest().subarray(0, STRONG_BYTES);
}

export interface Signature {
  blockSize: number;
  /** Size of the file it describes. */
  size: number;
  weak: Uint32Array;
  /** STRONG_BYTES per block, back to back. */
  strong: Buffer;
}

/** Reads a signature the destination sent; its length must match the file it describes. */
export function decodeSignature(payload: Buffer, size: number, blockSize: number): Signature {
  const count = getBlockCount(size, blockSize);
  if (blockSize !== getBlockSize(size) || payload.length !== count * SIGNATURE_ENTRY) {
    throw new ProtocolError(`a signature of ${payload.length} bytes does not describe a ${size}-byte file in ${blockSize}-byte blocks`);
  }
  const weak = new Uint32Array(count);
  const strong = Buffer.allocUnsafe(count * STRONG_BYTES);
  for (let i = 0; i < count; i++) {
    weak[i] = payload.readUInt32BE(i * SIGNATURE_ENTRY);
    payload.copy(strong, i * STRONG_BYTES, i * SIGNATURE_ENTRY + 4, (i + 1) * SIGNATURE_ENTRY);
  }
  return { blockSize, size, weak, strong };
}

export function isSameStrong(signature: Signature, block: number, hash: Buffer): boolean {
  return signature.strong.compare(hash, 0, STRONG_BYTES, block * STRONG_BYTES, (block + 1) * STRONG_BYTES) === 0;
}

// Instructions, as the payload of a `write-delta` and its `chunk`s carry them.
export const COPY = 1;
export const DATA = 2;
/** COPY: opcode, first block (uint32), block count (uint32). */
export const COPY_BYTES = 9;
/** DATA: opcode, length (uint32), then that many bytes. */
export const DATA_HEADER_BYTES = 5;

export function encodeCopy(first: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(COPY_BYTES);
  out[0] = COPY;
  out.writeUInt32BE(first, 1);
  out.writeUInt32BE(count, 5);
  return out;
}

export function encodeDataHeader(length: number): Buffer {
  const out = Buffer.allocUnsafe(DATA_HEADER_BYTES);
  out[0] = DATA;
  out.writeUInt32BE(length, 1);
  return out;
}
