/**
 * Layer (b) of the fuzz tier: valid WebSocket frames carrying protocol messages that are generated
 * or mutated (src/shared/protocol.ts, codec.ts). Most are well-formed operations with hostile
 * values (paths that try to leave the root, link targets that lead out of it, huge numbers, ops
 * out of order), which the daemon must refuse one by one; some break the schema or the codec,
 * after which it must close that connection and nothing else.
 *
 * Names come from a small vocabulary shared by every connection on the same root, so that one
 * connection's links and folders are in the way of another's writes (where a cached answer about
 * a folder would let a write through a symlink).
 */
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { VERSION } from '../../src/shared/version.js';
import type { Random } from './prng.js';

export interface ProtocolContext {
  /** Destination roots the fuzzer may open (absolute), each inside the sentinel folder. */
  roots: readonly string[];
  /** The daemon user's home, for `~/...` roots. */
  home: string;
  /** Must stay empty: links and escaping writes aim here. */
  outside: string;
  /** Prefix of every name that would show up outside the roots, with the seed in it. */
  escapeName: string;
  /** The honest client's destination, relative to a fuzz root (`../dest`). */
  honestRelative: string;
}

/** One WebSocket message: a protocol header (with payload), raw bytes, or a text frame. */
export type ProtocolStep =
  { kind: 'message'; header: unknown; payload?: Buffer } | { kind: 'raw'; bytes: Buffer; why: string } | { kind: 'text'; text: string };

export interface ProtocolSession {
  /** Index into `roots` of the root the hello opened, or null when the hello was not a valid one. */
  rootIndex: number | null;
  steps: ProtocolStep[];
}

const NAMES = ['a', 'b', 'd', 'x', 'up', 'dot', 'swap', 'deep', 'link'];
const MODES = [0o644, 0o755, 0o600, 0o777, 0o4755, 0o2755, 0o1777, 0, 0o7777];
const MTIMES = [
  '0',
  '1',
  '1700000000123456789',
  '999999999999999999999999',
  '18446744073709551616',
  '9007199254740993000000000'.slice(0, 24),
];
const HUGE_NUMBERS = [2 ** 31, 2 ** 32, 2 ** 53 - 1, Number.MAX_SAFE_INTEGER];
const BAD_NUMBERS = [-1, 0.5, 2 ** 53, 1e21, 1e308, -0.0001, Number.MIN_VALUE];

/** A path that stays inside the root, built from the shared vocabulary. */
function getPlainPath(random: Random, tag: string): string {
  const depth = 1 + random.int(3);
  const parts: string[] = [];
  for (let i = 0; i < depth - 1; i += 1) parts.push(random.pick(NAMES));
  parts.push(random.chance(0.5) ? random.pick(NAMES) : `f-${tag}-${random.int(20)}`);
  return parts.join('/');
}

/** A path (still within the schema: 1..4096 chars) that tries to leave the root or to confuse it. */
function getHostilePath(random: Random, context: ProtocolContext, tag: string): string {
  const escape = `${context.escapeName}-${tag}`;
  const choices: Array<() => string> = [
    () => '..',
    () => `../${escape}`,
    () => `../outside/${escape}`,
    () => `a/../../outside/${escape}`,
    () => `../../${escape}`,
    () => `../../../${escape}`,
    () => `${context.outside}/${escape}`,
    () => `/${escape}`,
    () => `//${escape}`,
    () => `${context.honestRelative}/${escape}`,
    () => `${context.honestRelative}/README.md`,
    () => `a\0../../${escape}`,
    () => '\0',
    () => `${escape}\0`,
    () => `..\\outside\\${escape}`,
    () => `a\\..\\..\\${escape}`,
    () => '.',
    () => './a',
    () => 'a/',
    () => 'a//b',
    () => 'a/.',
    () => '/',
    () => `up/outside/${escape}`,
    () => `up/${escape}`,
    () => `dot/../outside/${escape}`,
    () => `dot/dot/up/${escape}`,
    () => `swap/f-${tag}`,
    () => `swap/deep/f-${tag}`,
    () => `link/f-${tag}`,
    () => `d/f-${tag}`,
    () => 'a'.repeat(4096),
    () => `${'n'.repeat(256)}/${escape}`,
    () => 'n'.repeat(300),
    () => `${'d/'.repeat(2040)}x`,
    () => '\ud800',
    () => `e\u0301-${tag}`,
    () => `\u202egnp.${tag}`,
    () => `\uff0e\uff0e/${escape}`,
    () => `\u2025/${escape}`,
    () => `.x.sicksync-tmp-${'0'.repeat(12)}`,
    () => `.sicksync-conflict-${tag}`,
  ];
  return random.pick(choices)();
}

function getPath(random: Random, context: ProtocolContext, tag: string): string {
  return random.chance(0.55) ? getPlainPath(random, tag) : getHostilePath(random, context, tag);
}

function getLinkTarget(random: Random, context: ProtocolContext): string {
  return random.pick([
    '.',
    '..',
    'dot/..',
    'dot/../..',
    '../outside',
    `${context.honestRelative}`,
    context.outside,
    '/',
    '/etc',
    'up/outside',
    'up',
    'dot',
    'a/../..',
    'x/../../outside',
    'swap',
    'swap/..',
    'a',
    'd/x',
    '..\\..',
    'a\0b',
    'a'.repeat(4096),
    `${'../'.repeat(40)}tmp`,
  ]);
}

function getMtime(random: Random): string {
  return random.chance(0.7) ? `${1_600_000_000 + random.int(1e8)}${String(random.int(1e9)).padStart(9, '0')}` : random.pick(MTIMES);
}

function getMode(random: Random): number {
  return random.chance(0.7) ? random.pick([0o644, 0o755]) : random.pick(MODES);
}

/** An entry as a client would send it in a delete's `expect`. */
function getEntry(random: Random, path: string): Record<string, unknown> {
  return {
    path,
    kind: random.pick(['file', 'dir', 'symlink']),
    size: random.int(100),
    mode: getMode(random),
    mtimeNs: getMtime(random),
    ino: String(random.int(1e9)),
    ...(random.chance(0.2) ? { target: '..' } : {}),
  };
}

function getRandomJson(random: Random, depth = 0): unknown {
  switch (random.int(depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return random.chance(0.5);
    case 2:
      return random.pick([...HUGE_NUMBERS, ...BAD_NUMBERS, 0, 1]);
    case 3:
      return random.pick(['', 'hello', '..', '\0', 'x'.repeat(5000), '\ud800']);
    case 4:
      return random.int(1000);
    case 5:
      return '1';
    case 6:
      return Array.from({ length: random.int(4) }, () => getRandomJson(random, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = random.int(4); i > 0; i -= 1)
        out[random.pick(['t', 'op', 'path', 'x', 'req', 'size'])] = getRandomJson(random, depth + 1);
      return out;
    }
  }
}

/**
 * Breaks a header so the schema refuses it: a field removed, retyped or out of range, an unknown
 * `t`, or something that is not an object at all.
 */
function mutateHeader(random: Random, header: Record<string, unknown>): unknown {
  const keys = Object.keys(header);
  const copy: Record<string, unknown> = { ...header };
  switch (random.int(7)) {
    case 0:
      delete copy[random.pick(keys)];
      return copy;
    case 1:
      copy[random.pick(keys)] = getRandomJson(random);
      return copy;
    case 2:
      copy.t = random.pick(['', 'HELLO', 'welcome', 'ack', 'error', 'exec', 'constructor', '__proto__', 'write ', 'scan-page']);
      return copy;
    case 3:
      if ('op' in copy) copy.op = random.pick(BAD_NUMBERS);
      else if ('req' in copy) copy.req = random.pick(BAD_NUMBERS);
      else copy.t = 42;
      return copy;
    case 4:
      if ('path' in copy) copy.path = random.pick(['', 'a'.repeat(4097), 7, null, ['a'], { toString: 'a' }]);
      else copy.t = null;
      return copy;
    case 5:
      return getRandomJson(random);
    default:
      if ('mode' in copy) copy.mode = random.pick([0o10000, -1, 0.5, 1e9, '0644']);
      else if ('size' in copy) copy.size = random.pick([-1, 0.5, 1e308, '10']);
      else delete copy.t;
      return copy;
  }
}

/** Bytes that are one WebSocket message but not one protocol frame (codec.ts's job to refuse). */
function getCodecGarbage(random: Random, valid: Buffer): { bytes: Buffer; why: string } {
  const withLength = (length: number, rest: Buffer): Buffer => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(length >>> 0, 0);
    return Buffer.concat([prefix, rest]);
  };
  switch (random.int(9)) {
    case 0:
      return { bytes: random.bytes(random.int(4)), why: 'shorter than the length prefix' };
    case 1:
      return { bytes: withLength(valid.length + 1 + random.int(1000), valid.subarray(4)), why: 'header length beyond the frame' };
    case 2:
      return { bytes: withLength(random.pick([0xffffffff, 64 * 1024 * 1024 + 1, 2 ** 31]), Buffer.from('{}')), why: 'huge header length' };
    case 3:
      return { bytes: withLength(0, Buffer.alloc(0)), why: 'empty header' };
    case 4: {
      const text = Buffer.from(random.pick(['{', 'null', '[]', '"hello"', '{"t":"hello",}', 'NaN', '{"t":"scan","req":1}x', '\u0000']));
      return { bytes: withLength(text.length, text), why: 'header not a JSON object' };
    }
    case 5: {
      const depth = 1000 + random.int(100_000);
      const text = Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      return { bytes: withLength(text.length, text), why: `JSON nested ${depth} deep` };
    }
    case 6: {
      const text = Buffer.from('{"t":"scan","req":1,"__proto__":{"t":"hello","protocol":1}}');
      return { bytes: withLength(text.length, text), why: '__proto__ in the header' };
    }
    case 7:
      // A valid header with bytes after it, on a message that carries none.
      return { bytes: Buffer.concat([valid, random.bytes(1 + random.int(100))]), why: 'payload on a message without one' };
    default: {
      const text = Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"t":"<invalid UTF-8>"}
      return { bytes: withLength(text.length, text), why: 'header not UTF-8' };
    }
  }
}

function encodeHeader(header: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length, 0);
  return Buffer.concat([prefix, json]);
}

function getHello(random: Random, context: ProtocolContext): { header: Record<string, unknown>; rootIndex: number | null } {
  const rootIndex = random.int(context.roots.length);
  const absolute = context.roots[rootIndex]!;
  const root = random.chance(0.7) || !absolute.startsWith(`${context.home}/`) ? absolute : `~/${absolute.slice(context.home.length + 1)}`;
  const header: Record<string, unknown> = {
    t: 'hello',
    protocol: PROTOCOL_VERSION,
    version: VERSION,
    root,
    excludes: random.chance(0.7) ? [] : random.pick([['*'], ['!'], ['['], ['**/'], ['\\'], [`${'a'.repeat(4096)}`], ['/swap/', '!swap/x']]),
    client: random.chance(0.9) ? 'fuzz' : random.pick(['', 'x'.repeat(256), '../../h', '\0']),
  };
  if (random.chance(0.85)) return { header, rootIndex };
  // Refused hellos: another protocol, a root that is not absolute, or not usable.
  const refused = { ...header };
  switch (random.int(6)) {
    case 0:
      refused.protocol = random.pick([0, PROTOCOL_VERSION + 1, -1, 2 ** 31, 1e308, 999]);
      break;
    case 1:
      refused.version = random.pick(['', '0.0.0', '99.0.0', 'x'.repeat(10_000)]);
      refused.protocol = PROTOCOL_VERSION + 1;
      break;
    case 2:
      refused.root = random.pick(['relative/root', '.', '..', '~user/x', 'C:\\x', `${absolute}\0x`]);
      break;
    case 3:
      refused.root = random.pick(['', 'a'.repeat(4097)]);
      break;
    case 4:
      refused.root = `${absolute}/${'n'.repeat(300)}`;
      break;
    default:
      return { header: mutateHeader(random, header) as Record<string, unknown>, rootIndex: null };
  }
  return { header: refused, rootIndex: null };
}

/** Operations (ops and requests) with ids fresh per session, sometimes reused or out of range. */
function getOperations(random: Random, context: ProtocolContext, tag: string, count: number): ProtocolStep[] {
  const steps: ProtocolStep[] = [];
  const openWrites: number[] = [];
  let nextId = 1;
  const takeId = (): number => {
    if (random.chance(0.05)) return random.pick([0, 1, nextId - 1, ...HUGE_NUMBERS]);
    return nextId++;
  };
  for (let i = 0; i < count; i += 1) {
    const op = takeId();
    const path = getPath(random, context, tag);
    switch (random.int(12)) {
      case 0:
      case 1: {
        const size = random.int(2000);
        const payload = random.bytes(size);
        const last = random.chance(0.75);
        const declared = random.chance(0.85)
          ? size + (last ? 0 : random.int(3000))
          : random.pick([0, size + 1, Math.max(0, size - 1), ...HUGE_NUMBERS]);
        if (!last) openWrites.push(op);
        steps.push({
          kind: 'message',
          header: { t: 'write', op, path, size: declared, mode: getMode(random), mtimeNs: getMtime(random), last },
          payload,
        });
        break;
      }
      case 2: {
        // A chunk: for a write left open (its size may or may not be reached), or for nothing.
        const target = openWrites.length > 0 && random.chance(0.8) ? random.pick(openWrites) : random.pick([op, 0, ...HUGE_NUMBERS]);
        const last = random.chance(0.6);
        if (last) openWrites.splice(openWrites.indexOf(target), 1);
        steps.push({ kind: 'message', header: { t: 'chunk', op: target, last }, payload: random.bytes(random.int(3000)) });
        break;
      }
      case 3:
        steps.push({ kind: 'message', header: { t: 'abort', op: openWrites.length > 0 && random.chance(0.6) ? openWrites.pop()! : op } });
        break;
      case 4:
        steps.push({ kind: 'message', header: { t: 'mkdir', op, path, mode: getMode(random) } });
        break;
      case 5:
      case 6:
        steps.push({
          kind: 'message',
          header: {
            t: 'symlink',
            op,
            path: random.chance(0.6) ? random.pick(NAMES) : path,
            target: getLinkTarget(random, context),
            mtimeNs: getMtime(random),
          },
        });
        break;
      case 7:
        steps.push({ kind: 'message', header: { t: 'delete', op, path, expect: random.chance(0.5) ? null : getEntry(random, path) } });
        break;
      case 8:
        steps.push({
          kind: 'message',
          header: { t: 'rename', op, from: random.chance(0.5) ? random.pick(NAMES) : path, to: getPath(random, context, tag) },
        });
        break;
      case 9:
        steps.push({
          kind: 'message',
          header: {
            t: 'meta',
            op,
            path: random.chance(0.5) ? random.pick(NAMES) : path,
            mode: getMode(random),
            mtimeNs: random.chance(0.2) ? null : getMtime(random),
          },
        });
        break;
      case 10:
        steps.push({
          kind: 'message',
          header: { t: 'hash', req: op, paths: Array.from({ length: 1 + random.int(4) }, () => getPath(random, context, tag)) },
        });
        break;
      default:
        steps.push({ kind: 'message', header: { t: 'scan', req: op } });
    }
  }
  return steps;
}

/** A frame the daemon must refuse by closing the connection: schema, codec, or text frame. */
function getRefusedStep(random: Random, operations: readonly ProtocolStep[]): ProtocolStep {
  const sample = operations.find((step) => step.kind === 'message');
  const header = (sample?.kind === 'message' ? sample.header : { t: 'scan', req: 1 }) as Record<string, unknown>;
  switch (random.int(4)) {
    case 0:
      return { kind: 'text', text: random.pick([JSON.stringify(header), '', 'hello', '\u00e9']) };
    case 1: {
      const garbage = getCodecGarbage(random, encodeHeader(header));
      return { kind: 'raw', bytes: garbage.bytes, why: garbage.why };
    }
    default:
      return { kind: 'message', header: mutateHeader(random, header) };
  }
}

/**
 * One connection's messages: usually a hello then operations, sometimes operations before any
 * hello, a second hello, or a frame that ends the connection (in the middle or at the end).
 */
export function generateProtocolSession(random: Random, context: ProtocolContext, tag: string): ProtocolSession {
  const steps: ProtocolStep[] = [];
  let rootIndex: number | null = null;
  if (random.chance(0.93)) {
    const hello = getHello(random, context);
    rootIndex = hello.rootIndex;
    steps.push({ kind: 'message', header: hello.header });
  }
  const operations = getOperations(random, context, tag, 8 + random.int(40));
  steps.push(...operations);
  if (random.chance(0.05)) steps.splice(1 + random.int(steps.length - 1), 0, { kind: 'message', header: getHello(random, context).header });
  if (random.chance(0.35)) {
    // In the middle: whatever follows it must be ignored; at the end: the connection closes.
    const at = random.chance(0.3) ? random.int(steps.length) : steps.length;
    steps.splice(at, 0, getRefusedStep(random, operations));
  }
  return { rootIndex, steps };
}
