/**
 * Every message of the client ↔ daemon protocol. A message is a JSON header, optionally followed by
 * raw bytes (file content); `codec.ts` frames them. Headers are validated here, at the socket, so the
 * rest of the program only ever sees typed messages.
 */
import { z } from 'zod';
import type { Entry } from './entry.js';
import { ProtocolError } from './errors.js';

/** Bump on any incompatible change; both sides refuse a peer of another version before any file moves. */
export const PROTOCOL_VERSION = 2;

/** Largest content payload of one frame; bigger files are streamed as a `write` and `chunk`s. */
export const CHUNK_SIZE = 1024 * 1024;

const relPath = z.string().min(1).max(4096);
const DECIMAL = /^\d{1,24}$/;
const decimal = z.string().regex(DECIMAL);
const id = z.number().int().nonnegative();
const wireError = z.object({ code: z.string(), message: z.string() });

/**
 * What makes `value` no Entry, or null when it is one. Checked by hand, and the object kept as it
 * came: zod's object parse builds a copy of every entry, which at 100,000 entries (a scan brings
 * one per file) was most of what a client allocated while it caught up.
 */
export function getEntryProblem(value: unknown): { field?: string; message: string } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { message: 'expected an entry (an object)' };
  const { path, kind, size, mode, mtimeNs, ino, target } = value as Record<string, unknown>;
  if (typeof path !== 'string' || path.length < 1 || path.length > 4096)
    return { field: 'path', message: 'expected a path of 1-4096 characters' };
  if (kind !== 'file' && kind !== 'dir' && kind !== 'symlink') return { field: 'kind', message: "expected 'file', 'dir' or 'symlink'" };
  if (!Number.isSafeInteger(size) || (size as number) < 0) return { field: 'size', message: 'expected a byte count' };
  if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o7777)
    return { field: 'mode', message: 'expected permission bits' };
  if (typeof mtimeNs !== 'string' || !DECIMAL.test(mtimeNs)) return { field: 'mtimeNs', message: 'expected string of digits' };
  if (typeof ino !== 'string' || !DECIMAL.test(ino)) return { field: 'ino', message: 'expected string of digits' };
  if (target !== undefined && (typeof target !== 'string' || target.length > 4096))
    return { field: 'target', message: 'expected a link target' };
  if (Object.keys(value).length !== (target === undefined ? 6 : 7)) return { message: 'unexpected fields in an entry' };
  return null;
}

/** An Entry (entry.ts), checked by getEntryProblem and passed on as it came. */
const entry = z.unknown().check((context) => {
  const problem = getEntryProblem(context.value);
  if (problem)
    context.issues.push({ code: 'custom', message: problem.message, input: context.value, path: problem.field ? [problem.field] : [] });
}) as unknown as z.ZodType<Entry>;

const entryList = (max = Number.MAX_SAFE_INTEGER) => z.array(entry).max(max);

/** What an operation expects at its target (plan/types.ts Guard). */
const guard = z.object({ expect: entry.nullable(), ifChanged: z.enum(['refuse', 'keep']) });

const clientMessages = [
  z.object({
    t: z.literal('hello'),
    protocol: z.number().int(),
    version: z.string(),
    /** Absolute destination folder; `~` or `~/...` means the daemon user's home. */
    root: z.string().min(1).max(4096),
    /** gitignore lines; the daemon never scans, reports or deletes what they match. */
    excludes: z.array(z.string().max(4096)).max(100_000),
    client: z.string().max(256),
    /** Versions to keep of what this client's changes replace; null: keep none. */
    history: z
      .object({ versions: z.number().int().min(0).max(10_000), days: z.number().min(0).max(36_500) })
      .nullable()
      .optional(),
  }),
  /** `watch`: from then on, send a `changes` notice whenever something changes at the destination. */
  z.object({ t: z.literal('scan'), req: id, watch: z.boolean().optional() }),
  /** Content of a file that is still what the client saw (size and mtime); answered by `data` frames. */
  z.object({ t: z.literal('read'), req: id, path: relPath, size: z.number().int().nonnegative(), mtimeNs: decimal }),
  /** The versions kept of a path in the destination's history. */
  z.object({ t: z.literal('versions'), req: id, path: relPath }),
  z.object({ t: z.literal('hash'), req: id, paths: z.array(relPath).max(100_000) }),
  /** The delta signature of a file that is still what the client saw; answered by `signature-data`. */
  z.object({ t: z.literal('signature'), req: id, path: relPath, size: z.number().int().positive(), mtimeNs: decimal }),
  z.object({ t: z.literal('mkdir'), op: id, path: relPath, mode: z.number().int().min(0).max(0o7777) }),
  z.object({
    t: z.literal('symlink'),
    op: id,
    path: relPath,
    target: z.string().min(1).max(4096),
    mtimeNs: decimal,
    guard: guard.optional(),
    keepAs: relPath.optional(),
  }),
  /** Starts a file; its first bytes ride along. `last` says whether more `chunk`s follow. */
  z.object({
    t: z.literal('write'),
    op: id,
    path: relPath,
    size: z.number().int().nonnegative(),
    mode: z.number().int().min(0).max(0o7777),
    mtimeNs: decimal,
    last: z.boolean(),
    guard: guard.optional(),
    keepAs: relPath.optional(),
  }),
  /**
   * A large file sent as a delta (delta.ts) against the version at the destination, `base`, which
   * must still be there: the payload (and that of the `chunk`s after it) holds instructions.
   */
  z.object({
    t: z.literal('write-delta'),
    op: id,
    path: relPath,
    size: z.number().int().nonnegative(),
    mode: z.number().int().min(0).max(0o7777),
    mtimeNs: decimal,
    base: z.object({ size: z.number().int().positive(), mtimeNs: decimal }),
    blockSize: z.number().int().positive(),
    last: z.boolean(),
    guard: guard.optional(),
    keepAs: relPath.optional(),
  }),
  z.object({ t: z.literal('chunk'), op: id, last: z.boolean() }),
  z.object({ t: z.literal('abort'), op: id }),
  /** `guard.expect` is what the client believes is there; anything else is refused or kept, as it says. */
  z.object({ t: z.literal('delete'), op: id, path: relPath, guard: guard.nullable().optional() }),
  z.object({ t: z.literal('rename'), op: id, from: relPath, to: relPath }),
  z.object({
    t: z.literal('meta'),
    op: id,
    path: relPath,
    mode: z.number().int().min(0).max(0o7777),
    mtimeNs: decimal.nullable(),
  }),
] as const;

const daemonMessages = [
  z.object({
    t: z.literal('welcome'),
    protocol: z.number().int(),
    version: z.string(),
    root: z.string(),
    host: z.string(),
    /** What this destination can keep and do (a store without inodes, modes or links says so). */
    capabilities: z.object({
      watch: z.boolean(),
      symlinks: z.boolean(),
      modes: z.boolean(),
      renames: z.boolean(),
      /** Takes `signature` and `write-delta`; absent on daemons from before delta transfer. */
      delta: z.boolean().optional(),
    }),
  }),
  z.object({ t: z.literal('scan-page'), req: id, entries: entryList(), done: z.boolean() }),
  z.object({ t: z.literal('hashes'), req: id, hashes: z.record(z.string(), z.string().nullable()) }),
  /** A file's delta signature, in its payload (SIGNATURE_ENTRY bytes per block, delta.ts). */
  z.object({ t: z.literal('signature-data'), req: id, blockSize: z.number().int().positive() }),
  z.object({ t: z.literal('ack'), op: id, entry: entry.nullable(), note: z.string().optional() }),
  /** `current`: what is at the path now, when the operation was refused because it changed. */
  z.object({ t: z.literal('nack'), op: id, error: wireError, current: entry.nullable().optional() }),
  /** Something changed at a watched destination: what is there now, and what is gone. */
  z.object({ t: z.literal('changes'), entries: entryList(100_000), gone: z.array(relPath).max(100_000) }),
  /** A piece of a file asked for with `read`; the last one has `last` set. */
  z.object({ t: z.literal('data'), req: id, last: z.boolean() }),
  z.object({
    t: z.literal('versions-list'),
    req: id,
    versions: z.array(
      z.object({ number: z.number().int(), path: relPath, date: z.string(), size: z.number().int().nonnegative(), mtimeNs: decimal }),
    ),
  }),
  /** A failure not tied to one operation: a refused hello, a malformed frame, a failed scan. */
  z.object({ t: z.literal('error'), req: id.optional(), error: wireError }),
] as const;

const clientMessage = z.discriminatedUnion('t', clientMessages);
const daemonMessage = z.discriminatedUnion('t', daemonMessages);

export type ClientMessage = z.infer<typeof clientMessage>;
export type DaemonMessage = z.infer<typeof daemonMessage>;
export type Message = ClientMessage | DaemonMessage;
export type MessageOf<T extends Message['t']> = Extract<Message, { t: T }>;

/** Message types that carry content bytes after their header. */
const WITH_PAYLOAD: ReadonlySet<string> = new Set(['write', 'write-delta', 'chunk', 'data', 'signature-data']);

export function hasPayload(message: Message): boolean {
  return WITH_PAYLOAD.has(message.t);
}

function validateWith<T>(schema: z.ZodType<T>, header: unknown, side: string): T {
  const result = schema.safeParse(header);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new ProtocolError(`malformed ${side} message${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

export function validateClientMessage(header: unknown): ClientMessage {
  return validateWith(clientMessage, header, 'client');
}

export function validateDaemonMessage(header: unknown): DaemonMessage {
  return validateWith(daemonMessage, header, 'daemon');
}
