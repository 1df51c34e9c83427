/**
 * Framing, kept apart from the socket so tests can feed raw bytes: a frame is a 4-byte big-endian
 * header length, the JSON header, then the payload (file bytes) if the message carries one.
 */
import { ProtocolError } from './errors.js';
import { hasPayload, type Message } from './protocol.js';

const HEADER_LIMIT = 64 * 1024 * 1024;

export interface Frame<T = unknown> {
  header: T;
  payload: Buffer;
}

export function encodeFrame(message: Message, payload?: Uint8Array): Buffer {
  const header = Buffer.from(JSON.stringify(message), 'utf8');
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(header.length, 0);
  return payload && payload.length > 0 ? Buffer.concat([prefix, header, payload]) : Buffer.concat([prefix, header]);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Splits a frame into its parsed (not yet validated) header and its payload. */
export function decodeFrame(data: Buffer): Frame {
  if (data.length < 4) throw new ProtocolError(`frame of ${data.length} bytes is shorter than its 4-byte header length`);
  const headerLength = data.readUInt32BE(0);
  if (headerLength > HEADER_LIMIT) {
    throw new ProtocolError(`frame announces a ${headerLength}-byte header, over the ${HEADER_LIMIT}-byte limit`);
  }
  if (4 + headerLength > data.length) {
    throw new ProtocolError(`frame announces a ${headerLength}-byte header but holds ${data.length - 4} bytes`);
  }
  let text: string;
  try {
    text = UTF8.decode(data.subarray(4, 4 + headerLength));
  } catch {
    // Decoding leniently would turn bad bytes into U+FFFD: a path the client never meant.
    throw new ProtocolError('frame header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw new ProtocolError('frame header is not valid JSON');
  }
  return { header, payload: data.subarray(4 + headerLength) };
}

/** Rejects payload bytes on a message that has none, so garbage cannot hide behind a valid header. */
export function validatePayload(message: Message, payload: Buffer): void {
  if (payload.length > 0 && !hasPayload(message)) {
    throw new ProtocolError(`a '${message.t}' message carries no content, but ${payload.length} bytes followed it`);
  }
}
