/**
 * Streams one local file to the daemon in bounded chunks, so memory does not grow with file size.
 * A file that changes while it is read is not sent half-old, half-new: the write is aborted and the
 * watcher's next event sends it again.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { Entry } from '../../shared/entry.js';
import { CHUNK_SIZE } from '../../shared/protocol.js';
import { sendMessage } from '../../shared/socket-io.js';
import { SourceChangedError } from './endpoint.js';

export async function sendFile(ws: WebSocket, op: number, entry: Entry, localRoot: string): Promise<void> {
  const handle = await open(join(localRoot, entry.path), 'r').catch(() => {
    throw new SourceChangedError(`${entry.path} is gone`);
  });
  try {
    const isUnchanged = async (): Promise<boolean> => {
      const stats = await handle.stat({ bigint: true });
      return Number(stats.size) === entry.size && stats.mtimeNs.toString() === entry.mtimeNs;
    };
    if (!(await isUnchanged())) throw new SourceChangedError(`${entry.path} changed before it was sent`);
    let offset = 0;
    let first = true;
    do {
      const length = Math.min(CHUNK_SIZE, entry.size - offset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      offset += bytesRead;
      const last = offset >= entry.size || bytesRead === 0;
      if (last && (bytesRead !== length || !(await isUnchanged()))) {
        if (!first) await sendMessage(ws, { t: 'abort', op });
        throw new SourceChangedError(`${entry.path} changed while it was sent`);
      }
      const payload = buffer.subarray(0, bytesRead);
      await (first
        ? sendMessage(ws, { t: 'write', op, path: entry.path, size: entry.size, mode: entry.mode, mtimeNs: entry.mtimeNs, last }, payload)
        : sendMessage(ws, { t: 'chunk', op, last }, payload));
      first = false;
    } while (offset < entry.size);
  } finally {
    await handle.close();
  }
}
