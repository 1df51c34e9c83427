/**
 * The only place where protocol messages meet a WebSocket: encoding on the way out, decoding and
 * validation on the way in.
 */
import type { RawData, WebSocket } from 'ws';
import { decodeFrame, encodeFrame, validatePayload } from './codec.js';
import { ProtocolError } from './errors.js';
import type { Message } from './protocol.js';

/** Resolves once the frame is handed to the socket; rejects if the socket is gone. */
export function sendMessage(ws: WebSocket, message: Message, payload?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ws.readyState !== ws.OPEN) {
      reject(new ProtocolError('connection is closed'));
      return;
    }
    ws.send(encodeFrame(message, payload), { binary: true }, (error) => (error ? reject(error) : resolve()));
  });
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
