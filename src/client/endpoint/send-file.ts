/**
 * File content on its way to the daemon. Small files are read ahead, in parallel, while earlier
 * operations are still being sent; large ones are streamed in bounded chunks, so memory does not
 * grow with file size. A file that changes while it is read is not sent half-old, half-new: the
 * write is aborted and the watcher's next event sends it again.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { Entry } from '../../shared/entry.js';
import { CHUNK_SIZE, type MessageOf } from '../../shared/protocol.js';
import { queueMessage, sendMessage } from '../../shared/socket-io.js';
import { ErrorCode, SicksyncError, hasErrno, isErrnoException } from '../../shared/errors.js';
import { SourceChangedError } from './endpoint.js';
import { DELTA_MIN_SIZE, getBlockSize, type Signature } from '../../shared/delta.js';
import { encodeDelta, hashAlignedBlocks } from './delta-encoder.js';

/**
 * `check` compares the file with its entry before reading: worth a stat for a large file (nothing
 * is sent if it already changed), not for a small one, whose stat after reading decides anyway.
 */
async function openSource(localRoot: string, entry: Entry, check = true): Promise<FileHandle> {
  const handle = await open(join(localRoot, entry.path), 'r').catch((error: unknown) => {
    // Gone or replaced since the scan: the watcher reports what it became. Anything else (no
    // permission, an I/O error) will not fix itself by sending again, so it is named.
    if (hasErrno(error, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR')) throw new SourceChangedError(`${entry.path} is gone`);
    throw toSourceError(error, entry.path);
  });
  if (check && !(await isUnchanged(handle, entry))) {
    await handle.close();
    throw new SourceChangedError(`${entry.path} changed before it was sent`);
  }
  return handle;
}

async function isUnchanged(handle: FileHandle, entry: Entry): Promise<boolean> {
  const stats = await handle.stat({ bigint: true });
  return Number(stats.size) === entry.size && stats.mtimeNs.toString() === entry.mtimeNs;
}

/** A local file that cannot be read: named, with the reason, as the destination's errors are. */
function toSourceError(error: unknown, path: string): SicksyncError {
  const reason = isErrnoException(error) ? `${error.code ?? 'error'}: ${describeErrno(error)}` : String(error);
  return new SicksyncError(ErrorCode.IO, `cannot read ${path} here: ${reason}`);
}

function describeErrno(error: NodeJS.ErrnoException): string {
  if (error.code === 'EACCES' || error.code === 'EPERM') return 'permission denied';
  if (error.code === 'EIO') return 'input/output error';
  return error.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
}

/** Reads into `buffer`, naming the file when the read itself fails. */
async function readAt(handle: FileHandle, path: string, buffer: Buffer, offset: number, length: number, position: number) {
  try {
    return await handle.read(buffer, offset, length, position);
  } catch (error) {
    throw toSourceError(error, path);
  }
}

export function isSmallFile(entry: Entry): boolean {
  return entry.size <= CHUNK_SIZE;
}

/**
 * Files up to this size are read with blocking calls: four hops through libuv's thread pool (open,
 * read, stat, close) cost more than the reads themselves, and behind a watcher's own stat calls
 * they held a lone save back by 3 ms; a first sync of 20,000 small files spent 0.6 s of its
 * main thread creating FileHandles alone.
 */
const BLOCKING_READ_MAX = 64 * 1024;

/** Reads a file that fits in one frame, checking it did not change while being read. */
export function readSmallFile(localRoot: string, entry: Entry): Promise<Buffer> {
  if (entry.size > BLOCKING_READ_MAX) return readSmallFileAsync(localRoot, entry);
  try {
    return Promise.resolve(readSmallFileNow(localRoot, entry));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function readSmallFileNow(localRoot: string, entry: Entry): Buffer {
  let fd: number;
  try {
    fd = openSync(join(localRoot, entry.path), 'r');
  } catch (error) {
    if (hasErrno(error, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR')) throw new SourceChangedError(`${entry.path} is gone`);
    throw toSourceError(error, entry.path);
  }
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    let offset = 0;
    while (offset < entry.size) {
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, buffer, offset, entry.size - offset, offset);
      } catch (error) {
        throw toSourceError(error, entry.path);
      }
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    const stats = fstatSync(fd, { bigint: true });
    if (offset !== entry.size || Number(stats.size) !== entry.size || stats.mtimeNs.toString() !== entry.mtimeNs) {
      throw new SourceChangedError(`${entry.path} changed while it was read`);
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

async function readSmallFileAsync(localRoot: string, entry: Entry): Promise<Buffer> {
  const handle = await openSource(localRoot, entry, false);
  try {
    const buffer = Buffer.allocUnsafe(entry.size);
    let offset = 0;
    while (offset < entry.size) {
      const { bytesRead } = await readAt(handle, entry.path, buffer, offset, entry.size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== entry.size || !(await isUnchanged(handle, entry))) {
      throw new SourceChangedError(`${entry.path} changed while it was read`);
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** A write's guard and conflict-copy name, as its first frame carries them. */
export type ReplaceFields = Pick<MessageOf<'write'>, 'guard' | 'keepAs'>;

export function queueSmallFile(ws: WebSocket, op: number, entry: Entry, content: Buffer, replace: ReplaceFields): void {
  queueMessage(
    ws,
    { t: 'write', op, path: entry.path, size: entry.size, mode: entry.mode, mtimeNs: entry.mtimeNs, last: true, ...replace },
    content,
  );
}

/** Chunks handed to the socket and not yet written: the read of the next overlaps their sending. */
const CHUNKS_IN_FLIGHT = 4;

export async function streamFile(ws: WebSocket, op: number, entry: Entry, localRoot: string, replace: ReplaceFields): Promise<void> {
  const handle = await openSource(localRoot, entry);
  const inFlight: Promise<void>[] = [];
  try {
    let offset = 0;
    let first = true;
    do {
      const length = Math.min(CHUNK_SIZE, entry.size - offset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await readAt(handle, entry.path, buffer, 0, length, offset);
      offset += bytesRead;
      const last = offset >= entry.size || bytesRead === 0;
      // Checked after every chunk, not only the last: a file still being written (a 200 MB copy)
      // is given up after a megabyte instead of after all of it, and sent once it settles.
      if (bytesRead !== length || !(await isUnchanged(handle, entry))) {
        if (!first) await sendMessage(ws, { t: 'abort', op });
        throw new SourceChangedError(`${entry.path} changed while it was sent`);
      }
      const payload = buffer.subarray(0, bytesRead);
      const sent = first
        ? sendMessage(
            ws,
            { t: 'write', op, path: entry.path, size: entry.size, mode: entry.mode, mtimeNs: entry.mtimeNs, last, ...replace },
            payload,
          )
        : sendMessage(ws, { t: 'chunk', op, last }, payload);
      // Handled now, not only when awaited below: a connection that drops while the next chunk is
      // read rejects every chunk still on its way, and an unhandled rejection would end the process.
      sent.catch(() => undefined);
      inFlight.push(sent);
      first = false;
      // Bounded memory: wait for the oldest chunk once enough are on their way.
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
    } while (offset < entry.size);
    await Promise.all(inFlight);
  } finally {
    await Promise.allSettled(inFlight);
    await handle.close();
  }
}

/** A large file replacing a large file at the destination goes as a delta against it (shared/delta.ts). */
export function isDeltaCandidate(entry: Entry, base: Entry | null | undefined): base is Entry {
  return entry.size >= DELTA_MIN_SIZE && base?.kind === 'file' && base.size >= DELTA_MIN_SIZE;
}

/**
 * Sends `entry` as a `write-delta` against `base`, the version the destination has: instructions
 * in frames of at most a chunk, a few in flight. The local file's block hashes are computed while
 * the destination computes `signature`; when that comes back null (the file there changed or is
 * gone), nothing is sent and null is returned, for the caller to send the whole file. Returns the
 * bytes of instructions sent.
 */
export async function sendDelta(
  ws: WebSocket,
  op: number,
  entry: Entry,
  localRoot: string,
  signatureComing: Promise<Signature | null>,
  base: Entry,
  replace: ReplaceFields,
): Promise<number | null> {
  const handle = await openSource(localRoot, entry);
  const blockSize = getBlockSize(base.size);
  const inFlight: Promise<void>[] = [];
  let first = true;
  let sentBytes = 0;
  const send = async (piece: Buffer, last: boolean): Promise<void> => {
    sentBytes += piece.length;
    const sent = first
      ? sendMessage(
          ws,
          {
            t: 'write-delta',
            op,
            path: entry.path,
            size: entry.size,
            mode: entry.mode,
            mtimeNs: entry.mtimeNs,
            base: { size: base.size, mtimeNs: base.mtimeNs },
            blockSize,
            last,
            ...replace,
          },
          piece,
        )
      : sendMessage(ws, { t: 'chunk', op, last }, piece);
    first = false;
    sent.catch(() => undefined); // awaited below; a dropped connection rejects them all at once
    inFlight.push(sent);
    if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
  };
  try {
    const [signature, aligned] = await Promise.all([signatureComing, hashAlignedBlocks(handle.fd, entry.size, blockSize)]);
    if (!signature) return null;
    // One piece is held back, so that the last one can say it is.
    let held: Buffer | null = null;
    await encodeDelta(handle.fd, entry, signature, aligned, async (piece) => {
      if (held) await send(held, false);
      held = piece;
    });
    await send(held ?? Buffer.alloc(0), true);
    await Promise.all(inFlight);
    return sentBytes;
  } catch (error) {
    if (!first) await sendMessage(ws, { t: 'abort', op }).catch(() => undefined);
    throw error instanceof SourceChangedError ? new SourceChangedError(`${entry.path} changed while it was sent`) : error;
  } finally {
    await Promise.allSettled(inFlight);
    await handle.close();
  }
}

/**
 * Reads a local file that is still `entry` in pieces of at most a chunk, checking after each that
 * it did not change meanwhile (SourceChangedError then): the content of a side for whoever asks.
 */
export async function readFileChunks(localRoot: string, entry: Entry, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
  const handle = await openSource(localRoot, entry);
  try {
    let offset = 0;
    do {
      const length = Math.min(CHUNK_SIZE, entry.size - offset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = length === 0 ? { bytesRead: 0 } : await readAt(handle, entry.path, buffer, 0, length, offset);
      offset += bytesRead;
      if (bytesRead !== length || !(await isUnchanged(handle, entry)))
        throw new SourceChangedError(`${entry.path} changed while it was read`);
      await sink(buffer);
    } while (offset < entry.size);
  } finally {
    await handle.close();
  }
}
