import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, validatePayload } from '../../src/shared/codec.js';
import { ErrorCode, ProtocolError } from '../../src/shared/errors.js';
import {
  CHUNK_SIZE,
  PROTOCOL_VERSION,
  hasPayload,
  validateClientMessage,
  validateDaemonMessage,
  type ClientMessage,
  type DaemonMessage,
} from '../../src/shared/protocol.js';

const ENTRY = {
  path: 'src/ünïcode 日本.txt',
  kind: 'file',
  size: 42,
  mode: 0o644,
  mtimeNs: '1700000000123456789',
  ino: '18446744073709551615',
} as const;

const CLIENT_MESSAGES: ClientMessage[] = [
  {
    t: 'hello',
    protocol: PROTOCOL_VERSION,
    version: '0.1.0',
    root: '~/src/web',
    excludes: ['node_modules/', '*.log', '!keep.log'],
    client: 'laptop',
  },
  { t: 'scan', req: 0 },
  { t: 'scan', req: 1, watch: true },
  { t: 'read', req: 2, path: 'dir/b.bin', size: 10, mtimeNs: '1700000000123456789' },
  { t: 'versions', req: 3, path: 'a.txt' },
  {
    t: 'write',
    op: 8,
    path: 'a.txt',
    size: 1,
    mode: 0o644,
    mtimeNs: '1',
    last: true,
    guard: { expect: null, ifChanged: 'refuse' },
    keepAs: 'a.sicksync-conflict-20261203-120000-devbox.txt',
  },
  { t: 'hash', req: 7, paths: ['a.txt', 'dir/b.bin'] },
  { t: 'mkdir', op: 1, path: 'dir', mode: 0o755 },
  { t: 'symlink', op: 2, path: 'dir/link', target: '../a.txt', mtimeNs: '1700000000123456789' },
  { t: 'write', op: 3, path: 'big.bin', size: 3 * CHUNK_SIZE, mode: 0o600, mtimeNs: '1700000000123456789', last: false },
  { t: 'chunk', op: 3, last: true },
  { t: 'abort', op: 3 },
  { t: 'delete', op: 4, path: 'old.txt', guard: { expect: ENTRY, ifChanged: 'keep' } },
  { t: 'delete', op: 5, path: 'unknown.txt', guard: null },
  { t: 'rename', op: 6, from: 'a', to: 'b/c' },
  { t: 'meta', op: 7, path: 'dir', mode: 0o700, mtimeNs: '1700000000000000000' },
  { t: 'meta', op: 8, path: 'dir', mode: 0o7777, mtimeNs: null },
];

const DAEMON_MESSAGES: DaemonMessage[] = [
  {
    t: 'welcome',
    protocol: PROTOCOL_VERSION,
    version: '0.1.0',
    root: '/home/me/src/web',
    host: 'devbox',
    capabilities: { watch: true, symlinks: true, modes: true, renames: true },
  },
  { t: 'changes', entries: [ENTRY], gone: ['old/a.txt', 'old'] },
  { t: 'data', req: 3, last: false },
  { t: 'nack', op: 5, error: { code: 'SICKSYNC_E_TARGET_CHANGED', message: 'a.txt changed' }, current: ENTRY },
  {
    t: 'versions-list',
    req: 4,
    versions: [{ number: 1, path: '.sicksync/history/a~20261203-120000-000.txt', date: '2026-12-03T12:00:00.000Z', size: 3, mtimeNs: '1' }],
  },
  {
    t: 'scan-page',
    req: 0,
    entries: [
      ENTRY,
      { path: 'd', kind: 'dir', size: 0, mode: 0o755, mtimeNs: '1', ino: '2' },
      {
        path: 'l',
        kind: 'symlink',
        size: 0,
        mode: 0o777,
        mtimeNs: '3',
        ino: '4',
        target: 'd',
      },
    ],
    done: true,
  },
  { t: 'scan-page', req: 1, entries: [], done: false },
  { t: 'hashes', req: 7, hashes: { 'a.txt': 'ab'.repeat(32), 'gone.txt': null } },
  { t: 'ack', op: 1, entry: ENTRY },
  { t: 'ack', op: 2, entry: null, note: 'already gone' },
  { t: 'nack', op: 3, error: { code: ErrorCode.IO, message: 'disk full' } },
  { t: 'error', req: 4, error: { code: ErrorCode.PROTOCOL, message: 'bad frame' } },
  { t: 'error', error: { code: ErrorCode.PROTOCOL_VERSION, message: 'protocol 2 is not 1' } },
];

/** Every byte value, twice, in an order that would show a swap or a lost byte. */
const ALL_BYTES = Buffer.from([...Array.from({ length: 256 }, (_, i) => i), ...Array.from({ length: 256 }, (_, i) => 255 - i)]);

function expectProtocolError(run: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  const error = caught as ProtocolError;
  expect(error.code).toBe('SICKSYNC_E_PROTOCOL');
  expect(error.message).toMatch(message);
}

/** A frame whose header is the given raw text, as a peer could send it. */
function getRawFrame(headerText: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(header.length, 0);
  return Buffer.concat([prefix, header, payload]);
}

describe('encodeFrame / decodeFrame round trip', () => {
  it.each(CLIENT_MESSAGES.map((message) => [message.t, message] as const))('client message %s', (_t, message) => {
    const frame = decodeFrame(encodeFrame(message));
    const received = validateClientMessage(frame.header);
    expect(received).toEqual(message);
    expect(frame.payload.length).toBe(0);
    expect(() => validatePayload(received, frame.payload)).not.toThrow();
  });

  it.each(DAEMON_MESSAGES.map((message) => [message.t, message] as const))('daemon message %s', (_t, message) => {
    const frame = decodeFrame(encodeFrame(message));
    const received = validateDaemonMessage(frame.header);
    expect(received).toEqual(message);
    expect(frame.payload.length).toBe(0);
  });

  it.each([
    { t: 'write', op: 1, path: 'bytes.bin', size: ALL_BYTES.length, mode: 0o644, mtimeNs: '1', last: true },
    { t: 'chunk', op: 1, last: false },
  ] satisfies ClientMessage[])('keeps every byte value of a $t payload intact', (message) => {
    const frame = decodeFrame(encodeFrame(message, ALL_BYTES));
    expect(validateClientMessage(frame.header)).toEqual(message);
    expect(Buffer.compare(frame.payload, ALL_BYTES)).toBe(0);
    expect([...frame.payload]).toEqual([...ALL_BYTES]);
  });

  it('keeps payload bytes that look like a header (a frame inside a file)', () => {
    const inner = encodeFrame({ t: 'scan', req: 1 });
    const message: ClientMessage = { t: 'chunk', op: 9, last: true };
    const frame = decodeFrame(encodeFrame(message, inner));
    expect(frame.header).toEqual(message);
    expect(Buffer.compare(frame.payload, inner)).toBe(0);
  });

  it('accepts a Uint8Array payload, not only a Buffer', () => {
    const bytes = new Uint8Array([0, 255, 10, 13, 0]);
    const frame = decodeFrame(encodeFrame({ t: 'chunk', op: 1, last: true }, bytes));
    expect([...frame.payload]).toEqual([0, 255, 10, 13, 0]);
  });

  it('announces the header length in bytes, not characters (multi-byte UTF-8 paths)', () => {
    const message: ClientMessage = { t: 'mkdir', op: 1, path: 'ü/日本/😀', mode: 0o755 };
    const encoded = encodeFrame(message, Buffer.from([1, 2, 3]));
    const headerBytes = Buffer.byteLength(JSON.stringify(message), 'utf8');
    expect(encoded.readUInt32BE(0)).toBe(headerBytes);
    expect(encoded.length).toBe(4 + headerBytes + 3);
    expect(decodeFrame(encoded).header).toEqual(message);
  });

  it('an empty payload encodes as no payload', () => {
    const message: ClientMessage = { t: 'write', op: 1, path: 'empty', size: 0, mode: 0o644, mtimeNs: '1', last: true };
    expect(encodeFrame(message, new Uint8Array(0))).toEqual(encodeFrame(message));
  });
});

describe('hasPayload', () => {
  it.each([...CLIENT_MESSAGES, ...DAEMON_MESSAGES].map((message) => [message.t, message] as const))('%s', (t, message) => {
    expect(hasPayload(message)).toBe(t === 'write' || t === 'chunk' || t === 'data');
  });
});

describe('decodeFrame refuses malformed frames', () => {
  it.each([0, 1, 3])('a frame of %i bytes', (length) => {
    expectProtocolError(
      () => decodeFrame(Buffer.alloc(length)),
      new RegExp(`frame of ${length} bytes is shorter than its 4-byte header length`),
    );
  });

  it('a header length beyond the end of the frame', () => {
    const frame = Buffer.alloc(4 + 10);
    frame.writeUInt32BE(100, 0);
    expectProtocolError(() => decodeFrame(frame), /announces a 100-byte header but holds 10 bytes/);
  });

  it('a header length one byte beyond the end of the frame', () => {
    const full = getRawFrame('{"t":"scan","req":1}');
    expectProtocolError(() => decodeFrame(full.subarray(0, full.length - 1)), /announces a 20-byte header but holds 19 bytes/);
  });

  it('the largest header length a u32 can announce', () => {
    const frame = Buffer.alloc(8);
    frame.writeUInt32BE(0xffffffff, 0);
    expectProtocolError(() => decodeFrame(frame), /announces a 4294967295-byte header, over the 67108864-byte limit/);
  });

  it('a header larger than the 64 MiB limit, even when the frame holds all of it', () => {
    const limit = 64 * 1024 * 1024;
    // Valid JSON (one long string), so only the limit can refuse it.
    const frame = Buffer.alloc(4 + limit + 1, 'a'.charCodeAt(0));
    frame.writeUInt32BE(limit + 1, 0);
    frame.write('"', 4);
    frame.write('"', frame.length - 1);
    // The message must name the limit: "announces N bytes but holds N bytes" would say nothing.
    expectProtocolError(() => decodeFrame(frame), /67108864|64 MiB/);
  });

  it.each(['', '{', '{"t":"scan",}', 'scan', '\u0000\u0001', '{"t":"scan"}}'])('a header that is not JSON: %j', (text) => {
    expectProtocolError(() => decodeFrame(getRawFrame(text)), /frame header is not valid JSON/);
  });

  it('a header that is not valid UTF-8, even when lenient decoding would make valid JSON of it', () => {
    // {"t":"hello","root":"/x/<0xff 0xfe>"}: decoded leniently, a root of U+FFFD the client never named.
    const json = Buffer.concat([Buffer.from('{"t":"hello","root":"/x/'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const frame = Buffer.concat([Buffer.alloc(4), json]);
    frame.writeUInt32BE(json.length, 0);
    expectProtocolError(() => decodeFrame(frame), /frame header is not valid UTF-8/);
  });
});

describe('validateClientMessage / validateDaemonMessage refuse malformed headers', () => {
  const CLIENT_CASES: [string, unknown, RegExp][] = [
    ['an unknown t', { t: 'format-disk', req: 1 }, /malformed client message at t: .*'hello' \| 'scan'/],
    ['no t at all', { req: 1 }, /malformed client message at t/],
    ['a daemon message', { t: 'ack', op: 1, entry: null }, /malformed client message at t/],
    ['null', null, /malformed client message: .*expected object/],
    ['an array', [], /malformed client message: .*expected object/],
    ['a number', 5, /malformed client message: .*expected object/],
    ['a string', 'scan', /malformed client message: .*expected object/],
    ['a missing req', { t: 'scan' }, /at req: .*expected number, received undefined/],
    ['a missing path', { t: 'mkdir', op: 1, mode: 0o755 }, /at path: .*expected string/],
    ['a req given as a string', { t: 'scan', req: '1' }, /at req: .*expected number, received string/],
    ['a negative op', { t: 'abort', op: -1 }, /at op: /],
    ['a fractional op', { t: 'abort', op: 1.5 }, /at op: .*int/i],
    ['a mode beyond 0o7777', { t: 'mkdir', op: 1, path: 'd', mode: 0o10000 }, /at mode: /],
    ['a mode given as a string', { t: 'mkdir', op: 1, path: 'd', mode: '755' }, /at mode: .*expected number/],
    ['an empty path', { t: 'mkdir', op: 1, path: '', mode: 0o755 }, /at path: .*>=1/],
    ['an mtime that is not decimal', { t: 'meta', op: 1, path: 'd', mode: 0o755, mtimeNs: '1.5e18' }, /at mtimeNs: /],
    ['an mtime given as a number', { t: 'meta', op: 1, path: 'd', mode: 0o755, mtimeNs: 1 }, /at mtimeNs: .*expected string/],
    ['last missing on a chunk', { t: 'chunk', op: 1 }, /at last: .*expected boolean/],
    ['a path list with a number', { t: 'hash', req: 1, paths: ['a', 2] }, /at paths\.1: .*expected string/],
    [
      'a delete whose expected entry has an unknown kind',
      { t: 'delete', op: 1, path: 'a', guard: { expect: { ...ENTRY, kind: 'fifo' }, ifChanged: 'keep' } },
      /at guard\.expect\.kind: /,
    ],
    [
      'a delete whose guard says nothing of what to do',
      { t: 'delete', op: 1, path: 'a', guard: { expect: null } },
      /at guard\.ifChanged: /,
    ],
    ['a hello with an empty root', { t: 'hello', protocol: 1, version: '0.1.0', root: '', excludes: [], client: 'c' }, /at root: /],
    [
      'a hello whose excludes is a string',
      { t: 'hello', protocol: 1, version: '0.1.0', root: '/r', excludes: '*.log', client: 'c' },
      /at excludes: .*expected array/,
    ],
  ];

  it.each(CLIENT_CASES)('client: %s', (_name, header, message) => {
    expectProtocolError(() => validateClientMessage(header), message);
  });

  const DAEMON_CASES: [string, unknown, RegExp][] = [
    ['an unknown t', { t: 'hello' }, /malformed daemon message at t: .*'welcome'/],
    ['null', null, /malformed daemon message: .*expected object/],
    ['a missing host', { t: 'welcome', protocol: 1, version: '1', root: '/r' }, /at host: /],
    ['done given as a string', { t: 'scan-page', req: 1, entries: [], done: 'yes' }, /at done: .*expected boolean/],
    ['an entry with a negative size', { t: 'scan-page', req: 1, entries: [{ ...ENTRY, size: -1 }], done: true }, /at entries\.0\.size: /],
    [
      'an entry whose inode is a number',
      { t: 'scan-page', req: 1, entries: [{ ...ENTRY, ino: 5 }], done: true },
      /at entries\.0\.ino: .*expected string/,
    ],
    ['an entry of an unknown kind', { t: 'changes', entries: [{ ...ENTRY, kind: 'fifo' }], gone: [] }, /at entries\.0\.kind: /],
    [
      'an entry with a field of its own',
      { t: 'scan-page', req: 1, entries: [ENTRY, { ...ENTRY, extra: 1 }], done: true },
      /at entries\.1: unexpected fields/,
    ],
    ['an entry that is a string', { t: 'scan-page', req: 1, entries: ['a.txt'], done: true }, /at entries\.0: expected an entry/],
    ['an entry with an empty path', { t: 'scan-page', req: 1, entries: [{ ...ENTRY, path: '' }], done: true }, /at entries\.0\.path: /],
    [
      'an entry with mode bits beyond 0o7777',
      { t: 'scan-page', req: 1, entries: [{ ...ENTRY, mode: 0o17777 }], done: true },
      /at entries\.0\.mode: /,
    ],
    ['a hash that is a number', { t: 'hashes', req: 1, hashes: { a: 5 } }, /at hashes\.a: /],
    ['a nack without error', { t: 'nack', op: 1 }, /at error: /],
    ['an error without a message', { t: 'error', error: { code: 'X' } }, /at error\.message: .*expected string/],
  ];

  it.each(DAEMON_CASES)('daemon: %s', (_name, header, message) => {
    expectProtocolError(() => validateDaemonMessage(header), message);
  });

  it('every client message arrives through the daemon validator as malformed, and the reverse', () => {
    for (const message of CLIENT_MESSAGES) {
      expectProtocolError(() => validateDaemonMessage(message), /malformed daemon message at t/);
    }
    for (const message of DAEMON_MESSAGES) {
      expectProtocolError(() => validateClientMessage(message), /malformed client message at t/);
    }
  });
});

describe('validatePayload', () => {
  it.each(CLIENT_MESSAGES.filter((message) => !hasPayload(message)).map((message) => [message.t, message] as const))(
    "refuses bytes after a '%s' message",
    (t, message) => {
      const frame = decodeFrame(encodeFrame(message, Buffer.from([1, 2, 3])));
      expectProtocolError(
        () => validatePayload(validateClientMessage(frame.header), frame.payload),
        new RegExp(`a '${t}' message carries no content, but 3 bytes followed it`),
      );
    },
  );

  it('refuses bytes after a daemon message', () => {
    const message: DaemonMessage = { t: 'ack', op: 1, entry: null };
    expectProtocolError(() => validatePayload(message, Buffer.from([0])), /'ack' message carries no content, but 1 bytes/);
  });

  it.each([
    { t: 'write', op: 1, path: 'f', size: 1, mode: 0o644, mtimeNs: '1', last: true },
    { t: 'chunk', op: 1, last: true },
  ] satisfies ClientMessage[])('accepts bytes after a $t message', (message) => {
    expect(() => validatePayload(message, ALL_BYTES)).not.toThrow();
  });
});
