/**
 * Reading an open file by position, in the thread pool: whole ranges, and whole blocks of a delta
 * signature's size, a few MiB at a time so memory does not grow with the file. Both halves of a
 * delta transfer (the daemon's signature and rebuild, the client's hashes and literals) read so.
 */
import { read as readCallback } from 'node:fs';
import { promisify } from 'node:util';

const readAsync = promisify(readCallback);

/** Bytes read at once: whole blocks, and never more than a few MiB in memory. */
export const READ_SPAN = 4 * 1024 * 1024;

/**
 * Reads `length` bytes at `position`; `onShort` makes the error for a file that ended first
 * (changed since it was checked).
 */
export async function readRange(fd: number, position: number, length: number, onShort: () => Error): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await readAsync(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) throw onShort();
    done += bytesRead;
  }
  return buffer;
}

/** Hands every block of the `size`-byte file `fd` to `visit`, in order (the last may be shorter). */
export async function forEachBlock(
  fd: number,
  size: number,
  blockSize: number,
  onShort: () => Error,
  visit: (block: Buffer, index: number) => void,
): Promise<void> {
  const span = Math.max(1, Math.floor(READ_SPAN / blockSize)) * blockSize;
  let index = 0;
  for (let offset = 0; offset < size; offset += span) {
    const data = await readRange(fd, offset, Math.min(span, size - offset), onShort);
    for (let start = 0; start < data.length; start += blockSize, index += 1) {
      visit(data.subarray(start, Math.min(start + blockSize, data.length)), index);
    }
  }
}
