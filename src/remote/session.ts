/**
 * One client connection at the daemon: a version handshake, then operations on one destination
 * folder, applied in order wherever order matters (see op-scheduler.ts). A bad frame or a refused path is answered with an error for this
 * client only; the daemon and its other clients never notice.
 */
import { closeSync, fstatSync, readSync, realpathSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { ErrorCode, ProtocolError, SicksyncError, TargetChangedError, type WireError } from '../shared/errors.js';
import { createIgnoreRules } from '../shared/ignore-rules.js';
import { PROTOCOL_VERSION, validateClientMessage, type ClientMessage, type DaemonMessage, type MessageOf } from '../shared/protocol.js';
import { getSortedEntries } from '../shared/scan.js';
import { queueMessage, readMessage, sendMessage } from '../shared/socket-io.js';
import { VERSION } from '../shared/version.js';
import { WHOLE_WRITE_MAX, type AtomicWrite } from '../shared/tree/atomic-write.js';
import type { DeltaWrite } from '../shared/tree/delta-write.js';
import { createContentHash } from '../shared/hash.js';
import type { Entry } from '../shared/entry.js';
import { TreeIndex } from '../shared/tree-index.js';
import { releaseMemory } from '../shared/release-memory.js';
import { CHUNK_SIZE } from '../shared/protocol.js';
import { RootWatcher } from '../shared/root-watcher.js';
import { DaemonBudget, Slots } from './budget.js';
import { DestinationRoot, type ReplaceOptions } from '../shared/tree/destination-root.js';
import { makeFolders } from '../shared/tree/fs-helpers.js';
import { toDestinationError } from '../shared/tree/fs-errors.js';
import { CONNECTION_LIMITS, DAEMON_LIMITS, getLimitError, isLimitError } from './limits.js';
import { OpScheduler, type Footprint } from './op-scheduler.js';

const SCAN_PAGE = 5000;

/** A folder on a POSIX filesystem keeps everything and can be watched. */
const FOLDER_CAPABILITIES = { watch: true, symlinks: true, modes: true, renames: true, delta: true };

/**
 * What a message touches, for the scheduler: its paths, and its write's id for streamed content.
 * A chunk carries no path, so the path of its write (noted when the write arrived) stands for it:
 * folder times set after a file must wait for the file's last chunk.
 */
function getFootprint(message: ClientMessage, writePaths: Map<number, string>): Footprint {
  switch (message.t) {
    case 'hello':
    case 'scan':
    case 'hash':
      return { paths: [], keys: [], barrier: true };
    case 'versions':
      return { paths: [], keys: [] };
    case 'write':
    case 'write-delta':
      return { paths: [message.path], keys: [`op:${message.op}`] };
    case 'chunk':
    case 'abort': {
      const path = writePaths.get(message.op);
      return { paths: path === undefined ? [] : [path], keys: [`op:${message.op}`] };
    }
    case 'rename':
      return { paths: [message.from, message.to], keys: [] };
    default:
      return { paths: [message.path], keys: [] };
  }
}

interface OpenWrite {
  path: string;
  mode: number;
  mtimeNs: string;
  write: AtomicWrite | DeltaWrite;
  options: ReplaceOptions;
}

/** A destination this client syncs both ways: what is there, kept current by a watcher. */
interface Watching {
  index: TreeIndex;
  watcher: RootWatcher;
  /** Index updates run one at a time, in order. */
  updates: Promise<void>;
  rescans: Set<NodeJS.Timeout>;
}

/** When a new folder is looked at again (tree-index.ts takeAppearedFolders). */
const RESCAN_DELAY_MS = 300;

function getReplaceOptions(message: MessageOf<'write'> | MessageOf<'write-delta'> | MessageOf<'symlink'>): ReplaceOptions {
  return { guard: message.guard, keepAs: message.keepAs };
}

function toWireError(error: unknown): WireError {
  if (error instanceof SicksyncError) return error.toWire();
  return { code: ErrorCode.IO, message: error instanceof Error ? error.message : String(error) };
}

export function resolveRoot(root: string): string {
  if (root === '~') return homedir();
  if (root.startsWith('~/')) return join(homedir(), root.slice(2));
  if (!isAbsolute(root)) throw new ProtocolError(`destination ${JSON.stringify(root)} is neither absolute nor under ~`);
  return root;
}

function getByteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((total, part) => total + part.length, 0);
  return data.byteLength;
}

export interface SessionOptions {
  /** The daemon's totals, shared by its sessions (a session alone gets a budget of its own). */
  budget?: DaemonBudget;
  /** The byte stream under the WebSocket: its 'drain' says the client has read its answers. */
  socket?: Duplex;
}

export class Session {
  private destination: DestinationRoot | null = null;
  private readonly writes = new Map<number, OpenWrite>();
  private readonly budget: DaemonBudget;
  private readonly scheduler: OpScheduler;
  /** Bytes of frames received and not yet applied (limits.ts, CONNECTION_LIMITS.bufferedBytes). */
  private buffered = 0;
  private paused = false;
  private readonly stopListening: () => void;
  /** Paths of writes whose chunks are still arriving, by op id, as of frame arrival. */
  private readonly writePaths = new Map<number, string>();
  /** Set once a frame was refused: nothing after it is trusted or applied. */
  private refused = false;
  private closed = false;
  private watching: Watching | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly log: (line: string) => void,
    options: SessionOptions = {},
  ) {
    this.budget = options.budget ?? new DaemonBudget();
    this.scheduler = new OpScheduler(new Slots(CONNECTION_LIMITS.runningOps), this.budget.running);
    this.stopListening = this.budget.onBufferedLow(() => this.updateFlow());
    options.socket?.on('drain', () => this.updateFlow());
    ws.on('message', (data, isBinary) => this.handleFrame(data, isBinary));
    ws.on('close', () => void this.handleClose());
  }

  /**
   * Reads from the client only while this connection and the daemon as a whole are under their soft
   * limits, and again once back under half of them: a client that sends faster than its operations
   * are applied, or does not read its answers, waits in TCP instead of in the daemon's memory.
   */
  private updateFlow(): void {
    if (this.closed) return;
    const over =
      this.scheduler.size >= CONNECTION_LIMITS.queuedOps ||
      this.buffered >= CONNECTION_LIMITS.bufferedBytes ||
      this.ws.bufferedAmount >= CONNECTION_LIMITS.outboundBytes ||
      this.budget.isOverBuffered;
    const under =
      this.scheduler.size < CONNECTION_LIMITS.queuedOps / 2 &&
      this.buffered < CONNECTION_LIMITS.bufferedBytes / 2 &&
      this.ws.bufferedAmount < CONNECTION_LIMITS.outboundBytes / 2 &&
      this.budget.isUnderHalfBuffered;
    if (over && !this.paused) {
      this.paused = true;
      this.ws.pause();
    } else if (under && this.paused) {
      this.paused = false;
      this.ws.resume();
    }
  }

  private handleFrame(data: RawData, isBinary: boolean): void {
    if (this.refused) return;
    let message: ClientMessage;
    let payload: Buffer;
    try {
      ({ message, payload } = readMessage(data, isBinary, validateClientMessage));
    } catch (error) {
      this.refuse(error);
      return;
    }
    const bytes = getByteLength(data);
    this.buffered += bytes;
    this.budget.addBuffered(bytes);
    const footprint = getFootprint(message, this.writePaths);
    if ((message.t === 'write' || message.t === 'write-delta') && !message.last) this.writePaths.set(message.op, message.path);
    if ((message.t === 'chunk' && message.last) || message.t === 'abort') this.writePaths.delete(message.op);
    const req = 'req' in message ? message.req : undefined;
    void this.scheduler
      .schedule(footprint, () => this.handleMessage(message, payload))
      .catch((error: unknown) =>
        isLimitError(error)
          ? this.refuse(error)
          : this.reply({ t: 'error', ...(req === undefined ? {} : { req }), error: toWireError(error) }),
      )
      .finally(() => {
        this.buffered -= bytes;
        this.budget.releaseBuffered(bytes);
        this.updateFlow();
      });
    this.updateFlow();
  }

  /** A frame we cannot trust: say why, then close, since nothing after it can be interpreted. */
  private refuse(error: unknown): void {
    if (this.refused) return;
    this.refused = true;
    const wire = toWireError(error);
    this.log(`refused a frame: ${wire.message}`);
    this.reply({ t: 'error', error: wire });
    this.ws.close(1008, wire.code); // after the error frame: both go through the same queue
  }

  /** Answers are queued, not awaited: they leave together at the end of this turn (socket-io.ts). */
  private reply(message: DaemonMessage): void {
    if (this.closed) return;
    try {
      queueMessage(this.ws, message);
    } catch {
      // The client is gone; nothing to tell it.
    }
  }

  private async handleMessage(message: ClientMessage, payload: Buffer): Promise<void> {
    // Its client is gone (or was refused): nobody will record the outcome, and the client plans
    // again when it is back.
    if (this.closed || this.refused) return;
    if (message.t === 'hello') return this.handleHello(message);
    const destination = this.destination;
    if (!destination) throw new ProtocolError(`'${message.t}' before the handshake`);
    if ('op' in message) {
      await this.handleOp(destination, message, payload).then(
        (result) => {
          if (!result) return;
          this.noteApplied(message, 'path' in result ? result.path : undefined, result.entry, result.hash);
          this.reply({ t: 'ack', op: message.op, entry: result.entry, ...(result.note ? { note: result.note } : {}) });
        },
        (error: unknown) => {
          // Over a hard limit, the connection ends (handleFrame); any other failure is this operation's.
          if (isLimitError(error)) throw error;
          const current = error instanceof TargetChangedError ? { current: error.current } : {};
          if (error instanceof TargetChangedError) this.watching?.index.noteApplied(error.path, error.current);
          this.reply({ t: 'nack', op: message.op, error: toWireError(error), ...current });
        },
      );
      return;
    }
    switch (message.t) {
      case 'scan':
        return this.handleScan(destination, message.req, message.watch ?? false);
      case 'hash':
        return this.reply({ t: 'hashes', req: message.req, hashes: await destination.hash(message.paths) });
      case 'signature': {
        const { blockSize, encoded } = await destination.signature(message.path, message);
        if (this.closed) return;
        return void (await sendMessage(this.ws, { t: 'signature-data', req: message.req, blockSize }, encoded));
      }
      case 'read':
        return this.handleRead(destination, message);
      case 'versions':
        return this.reply({
          t: 'versions-list',
          req: message.req,
          versions: destination.listVersions(message.path).map((version) => ({ ...version, date: version.date.toISOString() })),
        });
    }
  }

  /** What this client changed is not news to it: the watcher's event for it must find nothing new. */
  private noteApplied(message: ClientMessage, written: string | undefined, entry: Entry | null, hash?: string): void {
    const watching = this.watching;
    if (!watching) return;
    const { index } = watching;
    if (message.t === 'rename') index.noteMoved(message.from, message.to);
    // A streamed write's last chunk carries no path: its write's is returned with the result.
    const path = written ?? ('path' in message ? message.path : undefined);
    if (path === undefined) return;
    index.noteApplied(path, entry, hash);
  }

  /** Streams a file's content; it must be what the client saw, and stay so while it is read. */
  private async handleRead(destination: DestinationRoot, message: MessageOf<'read'>): Promise<void> {
    const fd = destination.openForRead(message.path, message);
    try {
      let offset = 0;
      do {
        const length = Math.min(CHUNK_SIZE, message.size - offset);
        const buffer = Buffer.allocUnsafe(length);
        const bytesRead = length === 0 ? 0 : readSync(fd, buffer, 0, length, offset);
        offset += bytesRead;
        const stats = fstatSync(fd, { bigint: true });
        if (bytesRead !== length || Number(stats.size) !== message.size || stats.mtimeNs.toString() !== message.mtimeNs) {
          throw new SicksyncError(ErrorCode.SOURCE_CHANGED, `${message.path} changed at the destination while it was read`);
        }
        if (this.closed) return;
        await sendMessage(this.ws, { t: 'data', req: message.req, last: offset >= message.size }, buffer);
      } while (offset < message.size);
    } finally {
      closeSync(fd);
    }
  }

  private handleHello(hello: MessageOf<'hello'>): void {
    if (this.destination) throw new ProtocolError('a second hello on the same connection');
    if (hello.protocol !== PROTOCOL_VERSION) {
      const error = new ProtocolError(
        `client speaks protocol ${hello.protocol} (sicksync ${hello.version}), this daemon speaks ${PROTOCOL_VERSION} (sicksync ${VERSION})`,
        ErrorCode.PROTOCOL_VERSION,
      );
      this.reply({ t: 'error', error: error.toWire() });
      this.ws.close(1008, error.code);
      return;
    }
    const root = resolveRoot(hello.root);
    let realRoot: string;
    try {
      makeFolders(root);
      // Confinement works from the real path: a symlink in the root's own path is the user's choice.
      realRoot = realpathSync.native(root);
    } catch (error) {
      throw toDestinationError(error, 'create the destination folder', root);
    }
    this.destination = new DestinationRoot(realRoot, createIgnoreRules(hello.excludes), {
      clientName: hello.client,
      history: hello.history ?? null,
    });
    this.log(`client ${hello.client} opened ${root}`);
    this.reply({ t: 'welcome', protocol: PROTOCOL_VERSION, version: VERSION, root, host: hostname(), capabilities: FOLDER_CAPABILITIES });
  }

  private async handleScan(destination: DestinationRoot, req: number, watch: boolean): Promise<void> {
    const snapshot = await destination.scan();
    const release = watch && !this.watching ? this.startWatching(destination, snapshot) : () => undefined;
    const entries = getSortedEntries(this.watching ? this.watching.index.entries : snapshot);
    try {
      await this.sendScan(req, entries);
    } finally {
      release();
    }
  }

  private async sendScan(req: number, entries: Entry[]): Promise<void> {
    for (let i = 0; i === 0 || i < entries.length; i += SCAN_PAGE) {
      const page = entries.slice(i, i + SCAN_PAGE);
      // Awaited, unlike other answers: a large tree's pages must not pile up in memory.
      if (this.closed) return;
      await sendMessage(this.ws, { t: 'scan-page', req, entries: page, done: i + SCAN_PAGE >= entries.length }).catch(() => undefined);
    }
    releaseMemory(entries.length);
  }

  /**
   * From now on, changes at the destination are sent to the client. Events that arrive while the
   * scan's entries are taken in are not lost: the watcher started before the scan ended, and its
   * batches are applied to the index in order after it.
   */
  private startWatching(destination: DestinationRoot, snapshot: Map<string, Entry>): () => void {
    const index = new TreeIndex(
      destination.root,
      destination.rules,
      (line) => this.log(line),
      (problem) => this.log(problem.message),
    );
    index.adopt(snapshot);
    // Changes are told only after the scan's last page: the client takes them on top of it.
    let release: () => void = () => undefined;
    const scanSent = new Promise<void>((resolve) => (release = resolve));
    const watching: Watching = {
      index,
      updates: scanSent,
      rescans: new Set(),
      watcher: new RootWatcher(destination.root, {
        onBatch: (paths) => this.enqueueUpdate((tree) => tree.update(paths)),
        onError: (error) => this.log(`cannot watch ${destination.root}: ${error.message}`),
        isKnownFolder: (path) => index.entries.get(path)?.kind === 'dir',
        poll: (folders) => new Promise((resolve) => this.enqueueUpdate((tree) => tree.poll(folders), resolve)),
      }),
    };
    index.follow(watching.watcher);
    this.watching = watching;
    return release;
  }

  /** `done` is called once the update ran (or could not). */
  private enqueueUpdate(update: (index: TreeIndex) => Promise<Set<string>>, done?: () => void): void {
    const watching = this.watching;
    if (!watching || this.closed) return done?.();
    watching.updates = watching.updates
      .then(async () => {
        const changed = await update(watching.index);
        for (const folder of watching.index.takeAppearedFolders()) {
          const timer = setTimeout(() => {
            watching.rescans.delete(timer);
            this.enqueueUpdate((index) => index.rescan(folder));
          }, RESCAN_DELAY_MS);
          watching.rescans.add(timer);
        }
        if (changed.size > 0) this.sendChanges(watching.index, changed);
      })
      .catch((error: unknown) => this.log(`could not read changes: ${String(error)}`))
      .finally(done);
  }

  private sendChanges(index: TreeIndex, changed: Set<string>): void {
    const paths = [...changed];
    for (let i = 0; i < paths.length; i += SCAN_PAGE) {
      const entries: Entry[] = [];
      const gone: string[] = [];
      for (const path of paths.slice(i, i + SCAN_PAGE)) {
        const entry = index.entries.get(path);
        if (entry) entries.push(entry);
        else gone.push(path);
      }
      this.reply({ t: 'changes', entries, gone });
    }
  }

  /** Returns null while a streamed write is still open (it is acknowledged when complete). */
  private async handleOp(destination: DestinationRoot, message: ClientMessage, payload: Buffer) {
    switch (message.t) {
      case 'mkdir':
        return destination.mkdir(message.path, message.mode);
      case 'symlink':
        return destination.symlink(message.path, message.target, message.mtimeNs, getReplaceOptions(message));
      case 'meta':
        return destination.meta(message.path, message.mode, message.mtimeNs);
      case 'delete':
        return destination.delete(message.path, message.guard ?? null);
      case 'rename':
        return destination.rename(message.from, message.to);
      case 'write': {
        if (this.writes.has(message.op)) throw new ProtocolError(`write ${message.op} is already open`);
        if (message.last && payload.length === message.size && payload.length <= WHOLE_WRITE_MAX) {
          const result = destination.writeWhole(message.path, payload, message.mode, message.mtimeNs, getReplaceOptions(message));
          // A watched destination tells our writes from others' by content too (tree-index.ts).
          const hash = this.watching ? createContentHash().update(payload).digest('hex') : undefined;
          return { ...result, ...(hash ? { hash } : {}), path: message.path };
        }
        this.checkOpenWrites();
        return this.openWrite(destination, message, destination.beginWrite(message.path, message.size), payload);
      }
      case 'write-delta': {
        if (this.writes.has(message.op)) throw new ProtocolError(`write ${message.op} is already open`);
        this.checkOpenWrites();
        const write = destination.beginDeltaWrite(message.path, message.size, message.base, message.blockSize);
        return this.openWrite(destination, message, write, payload);
      }
      case 'chunk':
        return this.continueWrite(destination, message.op, payload, message.last);
      case 'abort': {
        const open = this.writes.get(message.op);
        if (open) this.forgetWrite(message.op).abort();
        return null; // the client gave the write up already; an answer would only race with that
      }
      default:
        throw new ProtocolError(`unexpected '${message.t}'`);
    }
  }

  /** Books a write just begun (limits.ts counts it until it ends) and takes its first bytes. */
  private openWrite(
    destination: DestinationRoot,
    message: MessageOf<'write'> | MessageOf<'write-delta'>,
    write: AtomicWrite | DeltaWrite,
    payload: Buffer,
  ) {
    // A watched destination tells our writes from others' by content too (tree-index.ts).
    if (this.watching) write.hashContent();
    this.writes.set(message.op, {
      path: message.path,
      mode: message.mode,
      mtimeNs: message.mtimeNs,
      write,
      options: getReplaceOptions(message),
    });
    this.budget.openWrites += 1;
    return this.continueWrite(destination, message.op, payload, message.last);
  }

  private async continueWrite(destination: DestinationRoot, op: number, payload: Buffer, last: boolean) {
    const open = this.writes.get(op);
    if (!open) throw new ProtocolError(`chunk for write ${op}, which is not open`);
    try {
      await open.write.append(payload);
      if (!last) return null;
      this.forgetWrite(op);
      return { ...destination.finishWrite(open.path, open.write, open.mode, open.mtimeNs, open.options), path: open.path };
    } catch (error) {
      if (this.writes.has(op)) this.forgetWrite(op);
      open.write.abort();
      throw toDestinationError(error, 'write', open.path);
    }
  }

  /**
   * Small files open and close within their operation, bounded by the operations running at once;
   * only streamed writes stay open between frames, for as long as their client pleases.
   */
  private checkOpenWrites(): void {
    if (this.writes.size >= CONNECTION_LIMITS.openWrites) {
      throw getLimitError(
        `this connection has ${this.writes.size} files open for writing`,
        CONNECTION_LIMITS.openWrites,
        'Finish or abort streamed writes before starting more.',
      );
    }
    if (this.budget.openWrites >= DAEMON_LIMITS.openWrites) {
      throw getLimitError(
        `the daemon has ${this.budget.openWrites} files open for writing across all its clients`,
        DAEMON_LIMITS.openWrites,
        'Reconnect and retry once other clients have finished.',
      );
    }
  }

  /** Takes an open write out of the books (limits.ts counts it until then); returns it. */
  private forgetWrite(op: number): AtomicWrite | DeltaWrite {
    const open = this.writes.get(op);
    if (!open) throw new ProtocolError(`write ${op} is not open`);
    this.writes.delete(op);
    this.budget.openWrites -= 1;
    return open.write;
  }

  private async handleClose(): Promise<void> {
    this.closed = true;
    this.stopListening();
    if (this.watching) {
      this.watching.watcher.close();
      for (const timer of this.watching.rescans) clearTimeout(timer);
    }
    await this.scheduler.drain();
    // A client that left mid-file leaves no temporary file behind.
    for (const op of [...this.writes.keys()]) this.forgetWrite(op).abort();
  }
}
