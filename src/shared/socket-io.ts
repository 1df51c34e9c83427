/**
 * The only place where protocol messages meet a WebSocket: encoding on the way out, decoding and
 * validation on the way in.
 */
import type { RawData, WebSocket } from 'ws';
import { decodeFrame, encodeFrame, validatePayload } from './codec.js';
import { ProtocolError } from './errors.js';
import type { Message } from './protocol.js';

interface Corkable {
  cork(): void;
  uncork(): void;
}

const sockets = new WeakMap<WebSocket, Corkable>();
const corked = new WeakSet<Corkable>();

/**
 * Registers the byte stream under a WebSocket so that every frame sent in one turn of the event loop
 * leaves in one write: with hundreds of small operations in flight, one syscall per frame (each way)
 * would cost more than the operations themselves.
 */
export function attachSocket(ws: WebSocket, socket: Corkable): void {
  sockets.set(ws, socket);
}

function corkUntilNextTurn(ws: WebSocket): void {
  const socket = sockets.get(ws);
  if (!socket || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  setImmediate(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

/**
 * Sends still waiting for their write callback, per connection. A stream under the WebSocket that
 * is torn down (an SSH channel whose connection died) may never call back the write it was
 * holding; the close of the WebSocket settles those instead, so no sender waits forever.
 */
const pendingSends = new WeakMap<WebSocket, Set<(error: Error) => void>>();

function getPendingSends(ws: WebSocket): Set<(error: Error) => void> {
  let pending = pendingSends.get(ws);
  if (!pending) {
    const created = new Set<(error: Error) => void>();
    pending = created;
    pendingSends.set(ws, created);
    ws.once('close', () => {
      for (const fail of [...created]) fail(new ProtocolError('connection is closed'));
    });
  }
  return pending;
}

/** Resolves once the frame is handed to the socket (use it for backpressure); rejects if the socket is gone. */
export function sendMessage(ws: WebSocket, message: Message, payload?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState !== ws.OPEN) {
      reject(new ProtocolError('connection is closed'));
      return;
    }
    const pending = getPendingSends(ws);
    const fail = (error: Error): void => {
      pending.delete(fail);
      reject(error);
    };
    pending.add(fail);
    corkUntilNextTurn(ws);
    ws.send(encodeFrame(message, payload), { binary: true }, (error) => {
      pending.delete(fail);
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Queues a frame in order without waiting for it to be written; a failure shows up as a closed connection. */
export function queueMessage(ws: WebSocket, message: Message, payload?: Uint8Array): void {
  if (ws.readyState !== ws.OPEN) throw new ProtocolError('connection is closed');
  corkUntilNextTurn(ws);
  ws.send(encodeFrame(message, payload), { binary: true });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function readMessage<T extends Message>(
  data: RawData,
  isBinary: boolean,
  validate: (header: unknown) => T,
): { message: T; payload: Buffer } {
  if (!isBinary) throw new ProtocolError('text frames are not part of the protocol; frames are binary');
  const frame = decodeFrame(toBuffer(data));
  const message = validate(frame.header);
  validatePayload(message, frame.payload);
  return { message, payload: frame.payload };
}
