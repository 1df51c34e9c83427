/**
 * Raw WebSocket bytes for tests that play a hostile client below the ws library: frames built
 * field by field (RFC 6455 section 5.2), right or deliberately wrong, and the upgrade request.
 */
import { randomBytes } from 'node:crypto';

export interface RawFrameSpec {
  fin?: boolean;
  /** RSV1..RSV3 as three bits (4, 2, 1); none is negotiated, so any set bit is a violation. */
  rsv?: number;
  opcode: number;
  /** Clients must mask every frame (section 5.3). */
  masked?: boolean;
  payload?: Buffer;
  /** The length written in the header, when it should lie about the payload that follows. */
  declaredLength?: bigint;
  /** Forces a length encoding (7-bit, 16-bit or 64-bit) whatever the length, to try non-minimal forms. */
  lengthForm?: 7 | 16 | 64;
}

/** The bytes of one frame as `spec` says, right or wrong; `getMask` gives the 4 mask bytes. */
export function encodeRawFrame(spec: RawFrameSpec, getMask: () => Buffer): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const masked = spec.masked ?? true;
  const length = spec.declaredLength ?? BigInt(payload.length);
  const form = spec.lengthForm ?? (length < 126n ? 7 : length < 65536n ? 16 : 64);
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = masked ? 0x80 : 0;
  let header: Buffer;
  if (form === 7) header = Buffer.from([first, maskBit | Number(length & 0x7fn)]);
  else if (form === 16) {
    header = Buffer.alloc(4);
    header[0] = first;
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length & 0xffffn), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = first;
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length & 0xffffffffffffffffn, 2);
  }
  if (!masked) return Buffer.concat([header, payload]);
  const mask = getMask();
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i += 1) body[i] = body[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, body]);
}

/** An HTTP upgrade request to the daemon, with `headers` (an Authorization line, say) added. */
export function formatUpgradeRequest(headers: readonly string[] = []): string {
  return [
    'GET / HTTP/1.1',
    'Host: sicksync-daemon',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    ...headers,
    '',
    '',
  ].join('\r\n');
}
