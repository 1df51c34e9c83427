/**
 * Layer (a) of the fuzz tier: raw WebSocket bytes as a hostile client could put them on the wire
 * after a valid upgrade (RFC 6455 section 5). Each case is a short run of frames for one fresh
 * connection: a few valid ones, then one that breaks a rule of the framing (or random damage).
 */
import { encodeRawFrame, type RawFrameSpec } from '../helpers/raw-websocket.js';
import type { Random } from './prng.js';

export interface WsCase {
  /** What the case breaks, for failure messages. */
  label: string;
  /** The bytes, in the writes they go out in (split at random points to exercise partial reads). */
  chunks: Buffer[];
  /** Frames in the case (a blob of random bytes counts as one). */
  frames: number;
  /**
   * True when the last frame is a certain violation: the daemon must then close the connection by
   * itself. Otherwise (truncated or randomly damaged bytes) the client ends its side after sending.
   */
  daemonMustClose: boolean;
}

export interface WsContext {
  /** A valid protocol frame (a hello for a fuzz root), to carry in valid binary messages. */
  hello: Buffer;
}

const BAD_OPCODES = [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf];
const BAD_CLOSE_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
const VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999];
const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xa0, 0xa1],
  [0xe2, 0x28, 0xa1],
  [0xf0, 0x28, 0x8c, 0x28],
  [0xff],
  [0xfe, 0xfe, 0xff, 0xff],
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate, encoded
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xc0, 0xaf], // overlong '/'
];
/** Declared lengths above the daemon's 64 MiB frame limit, or beyond what a length may be at all. */
const HUGE_LENGTHS = [64n * 1024n * 1024n + 1n, 65n * 1024n * 1024n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

function getInvalidUtf8(random: Random): Buffer {
  const prefix = Buffer.from('valid prefix ', 'utf8').subarray(0, random.int(14));
  return Buffer.concat([prefix, Buffer.from(random.pick(INVALID_UTF8)), Buffer.from('tail', 'utf8').subarray(0, random.int(5))]);
}

function getClosePayload(code: number, reason: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(2 + reason.length);
  out.writeUInt16BE(code, 0);
  reason.copy(out, 2);
  return out;
}

type Part = { specs: RawFrameSpec[]; label: string; daemonMustClose: boolean };

/** Frames that are valid on their own: what an honest peer might send before the bad one. */
function getValidPrefix(random: Random, context: WsContext): RawFrameSpec[] {
  const specs: RawFrameSpec[] = [];
  for (let i = random.int(4); i > 0; i -= 1) {
    switch (random.int(4)) {
      case 0:
        specs.push({ opcode: 0x9, payload: random.bytes(random.int(126)) });
        break;
      case 1:
        specs.push({ opcode: 0xa, payload: random.bytes(random.int(20)) });
        break;
      case 2:
        specs.push({ opcode: 0x2, payload: context.hello });
        break;
      default: {
        // One binary message in fragments, with a ping between them (allowed: section 5.4).
        const cut = 1 + random.int(context.hello.length - 1);
        specs.push({ fin: false, opcode: 0x2, payload: context.hello.subarray(0, cut) });
        specs.push({ opcode: 0x9, payload: Buffer.from('p') });
        specs.push({ opcode: 0x0, payload: context.hello.subarray(cut) });
      }
    }
  }
  return specs;
}

/** One violation of the framing, with the frames needed to set it up. */
function getViolation(random: Random, context: WsContext): Part {
  const small = (): Buffer => random.bytes(random.int(40));
  switch (random.int(16)) {
    case 0:
      return {
        label: 'RSV bits set',
        daemonMustClose: true,
        specs: [{ opcode: random.pick([1, 2, 9]), rsv: random.range(1, 7), payload: small() }],
      };
    case 1:
      return { label: 'reserved opcode', daemonMustClose: true, specs: [{ opcode: random.pick(BAD_OPCODES), payload: small() }] };
    case 2:
      return {
        label: 'unmasked frame',
        daemonMustClose: true,
        specs: [{ opcode: random.pick([0x1, 0x2, 0x8, 0x9, 0xa]), masked: false, payload: small() }],
      };
    case 3: {
      const declaredLength = random.pick(HUGE_LENGTHS);
      return {
        label: `declared length ${declaredLength}`,
        daemonMustClose: true,
        specs: [{ opcode: random.pick([0x1, 0x2, 0x0]), declaredLength, lengthForm: 64, payload: small() }],
      };
    }
    case 4: {
      // Fewer bytes than declared: the daemon waits for the rest until the client hangs up.
      const payload = small();
      return {
        label: 'truncated payload',
        daemonMustClose: false,
        specs: [{ opcode: 0x2, payload, declaredLength: BigInt(payload.length + 1 + random.int(70_000)) }],
      };
    }
    case 5: {
      // More bytes than declared: the excess is read as the next frame's header.
      const payload = random.bytes(10 + random.int(60));
      return {
        label: 'length shorter than the payload',
        daemonMustClose: false,
        specs: [{ opcode: 0x2, payload, declaredLength: BigInt(random.int(payload.length)) }],
      };
    }
    case 6:
      return {
        label: 'continuation with nothing to continue',
        daemonMustClose: true,
        specs: [{ opcode: 0x0, fin: random.chance(0.5), payload: small() }],
      };
    case 7:
      return {
        label: 'new data frame inside a fragmented message',
        daemonMustClose: true,
        specs: [
          { opcode: random.pick([1, 2]), fin: false, payload: Buffer.from('part') },
          { opcode: random.pick([1, 2]), payload: small() },
        ],
      };
    case 8:
      return {
        label: 'fragmented control frame',
        daemonMustClose: true,
        specs: [{ opcode: random.pick([0x8, 0x9, 0xa]), fin: false, payload: Buffer.from('x') }],
      };
    case 9: {
      const length = 126 + random.int(400);
      return {
        label: `control frame of ${length} bytes`,
        daemonMustClose: true,
        specs: [
          {
            opcode: random.pick([0x8, 0x9, 0xa]),
            payload: random.bytes(length),
            ...(random.chance(0.5) ? { lengthForm: 64 as const } : {}),
          },
        ],
      };
    }
    case 10: {
      // Invalid UTF-8 in a text message, whole or split across fragments (checked when complete).
      const text = getInvalidUtf8(random);
      if (random.chance(0.5) && text.length > 1) {
        const cut = 1 + random.int(text.length - 1);
        return {
          label: 'invalid UTF-8 across text fragments',
          daemonMustClose: true,
          specs: [
            { opcode: 0x1, fin: false, payload: text.subarray(0, cut) },
            { opcode: 0x0, payload: text.subarray(cut) },
          ],
        };
      }
      return { label: 'invalid UTF-8 in a text frame', daemonMustClose: true, specs: [{ opcode: 0x1, payload: text }] };
    }
    case 11:
      // Valid UTF-8, but the protocol is binary only: refused one layer up, still a closed connection.
      return {
        label: 'a text frame',
        daemonMustClose: true,
        specs: [{ opcode: 0x1, payload: Buffer.from(random.pick(['{}', 'hello', '\u00e9\u4e2d', ''])) }],
      };
    case 12: {
      const pick = random.int(4);
      if (pick === 0)
        return { label: 'close frame of one byte', daemonMustClose: true, specs: [{ opcode: 0x8, payload: Buffer.from([0x03]) }] };
      if (pick === 1) {
        const code = random.pick(BAD_CLOSE_CODES);
        return { label: `close code ${code}`, daemonMustClose: true, specs: [{ opcode: 0x8, payload: getClosePayload(code) }] };
      }
      if (pick === 2) {
        return {
          label: 'close reason not UTF-8',
          daemonMustClose: true,
          specs: [{ opcode: 0x8, payload: getClosePayload(random.pick(VALID_CLOSE_CODES), getInvalidUtf8(random)) }],
        };
      }
      // A valid close: the daemon answers it and closes.
      return {
        label: 'valid close',
        daemonMustClose: true,
        specs: [{ opcode: 0x8, payload: getClosePayload(random.pick(VALID_CLOSE_CODES), Buffer.from('bye')) }],
      };
    }
    case 13:
      // A non-minimal length encoding (RFC says minimal, most parsers accept): valid or not, nothing may break.
      return {
        label: 'non-minimal length encoding',
        daemonMustClose: false,
        specs: [{ opcode: 0x2, payload: random.chance(0.5) ? context.hello : small(), lengthForm: random.pick([16, 64] as const) }],
      };
    case 14:
      // Frames after a close frame must be ignored.
      return {
        label: 'frames after a close frame',
        daemonMustClose: true,
        specs: [
          { opcode: 0x8, payload: getClosePayload(1000) },
          { opcode: 0x2, payload: context.hello },
          { opcode: random.pick(BAD_OPCODES) },
        ],
      };
    default: {
      // A binary message of protocol garbage, fragmented across many frames.
      const count = 2 + random.int(30);
      const specs: RawFrameSpec[] = [];
      for (let i = 0; i < count; i += 1)
        specs.push({ opcode: i === 0 ? 0x2 : 0x0, fin: i === count - 1, payload: random.bytes(random.int(64)) });
      return { label: `binary garbage in ${count} fragments`, daemonMustClose: true, specs };
    }
  }
}

/** Bytes damaged at random: flipped bits, cut short, or spliced, starting from valid frames. */
function getDamaged(random: Random, valid: Buffer): { bytes: Buffer; label: string } {
  const bytes = Buffer.from(valid);
  switch (random.int(4)) {
    case 0: {
      // In the first 14 bytes only: frame header, mask, the start of the payload. A flip further in
      // could turn a hello's root into another valid folder, which the daemon rightly creates.
      const flips = 1 + random.int(8);
      for (let i = 0; i < flips; i += 1) {
        const at = random.int(Math.min(bytes.length, 14));
        bytes[at] = bytes[at]! ^ (1 << random.int(8));
      }
      return { bytes, label: `${flips} flipped bits` };
    }
    case 1:
      return { bytes: bytes.subarray(0, random.int(bytes.length)), label: 'cut short' };
    case 2: {
      // In the frame header and the first bytes too, for the same reason: a splice into a hello's
      // root can leave valid UTF-8 and valid JSON naming another folder, which the daemon rightly
      // creates (seen with seed 320929391). The protocol layer damages payloads field by field.
      const at = random.int(Math.min(bytes.length, 14));
      return {
        bytes: Buffer.concat([bytes.subarray(0, at), random.bytes(1 + random.int(16)), bytes.subarray(at + random.int(8))]),
        label: 'spliced',
      };
    }
    default:
      return { bytes: random.bytes(1 + random.int(200)), label: 'random bytes' };
  }
}

function splitIntoWrites(random: Random, bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let rest = bytes;
  for (let writes = random.int(4); writes > 0 && rest.length > 1; writes -= 1) {
    const cut = 1 + random.int(rest.length - 1);
    chunks.push(rest.subarray(0, cut));
    rest = rest.subarray(cut);
  }
  chunks.push(rest);
  return chunks;
}

export function generateWsCase(random: Random, context: WsContext): WsCase {
  const prefix = getValidPrefix(random, context);
  const prefixBytes = prefix.map((spec) => encodeRawFrame(spec, () => random.bytes(4)));
  if (random.chance(0.2)) {
    const valid = Buffer.concat([...prefixBytes, encodeRawFrame({ opcode: 0x2, payload: context.hello }, () => random.bytes(4))]);
    const damaged = getDamaged(random, valid);
    return { label: damaged.label, chunks: splitIntoWrites(random, damaged.bytes), frames: prefix.length + 1, daemonMustClose: false };
  }
  const violation = getViolation(random, context);
  const bytes = Buffer.concat([...prefixBytes, ...violation.specs.map((spec) => encodeRawFrame(spec, () => random.bytes(4)))]);
  return {
    label: violation.label,
    chunks: splitIntoWrites(random, bytes),
    frames: prefix.length + violation.specs.length,
    daemonMustClose: violation.daemonMustClose,
  };
}
