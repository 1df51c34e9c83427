/**
 * One client connection at the daemon: a version handshake, then operations on one destination
 * folder, applied in order wherever order matters (see op-scheduler.ts). A bad frame or a refused path is answered with an error for this
 * client only; the daemon and its other clients never notice.
 */
import { realpathSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import { ErrorCode, ProtocolError, SicksyncError, type WireError } from '../shared/errors.js';
import { createIgnoreRules } from '../shared/ignore-rules.js';
import { PROTOCOL_VERSION, validateClientMessage, type ClientMessage, type DaemonMessage, type MessageOf } from '../shared/protocol.js';
import { getSortedEntries } from '../shared/scan.js';
import { queueMessage, readMessage, sendMessage } from '../shared/socket-io.js';
import { VERSION } from '../shared/version.js';
import type { AtomicWrite } from './atomic-write.js';
import { DaemonBudget, Slots } from './budget.js';
import { DestinationRoot } from './destination-root.js';
import { makeFolders } from './fs-helpers.js';
import { toDestinationError } from './fs-errors.js';
import { CONNECTION_LIMITS, DAEMON_LIMITS, getLimitError, isLimitError } from './limits.js';
import { OpScheduler, type Footprint } from './op-scheduler.js';

const SCAN_PAGE = 5000;

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
    case 'write':
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
  write: AtomicWrite;
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
    if (message.t === 'write' && !message.last) this.writePaths.set(message.op, message.path);
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
        (result) => result && this.reply({ t: 'ack', op: message.op, entry: result.entry, ...(result.note ? { note: result.note } : {}) }),
        (error: unknown) => {
          // Over a hard limit, the connection ends (handleFrame); any other failure is this operation's.
          if (isLimitError(error)) throw error;
          this.reply({ t: 'nack', op: message.op, error: toWireError(error) });
        },
      );
      return;
    }
    if (message.t === 'scan') return this.handleScan(destination, message.req);
    if (message.t === 'hash') {
      this.reply({ t: 'hashes', req: message.req, hashes: await destination.hash(message.paths) });
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
    this.destination = new DestinationRoot(realRoot, createIgnoreRules(hello.excludes), hello.client);
    this.log(`client ${hello.client} opened ${root}`);
    this.reply({ t: 'welcome', protocol: PROTOCOL_VERSION, version: VERSION, root, host: hostname() });
  }

  private async handleScan(destination: DestinationRoot, req: number): Promise<void> {
    const entries = getSortedEntries(await destination.scan());
    for (let i = 0; i === 0 || i < entries.length; i += SCAN_PAGE) {
      const page = entries.slice(i, i + SCAN_PAGE);
      // Awaited, unlike other answers: a large tree's pages must not pile up in memory.
      if (this.closed) return;
      await sendMessage(this.ws, { t: 'scan-page', req, entries: page, done: i + SCAN_PAGE >= entries.length }).catch(() => undefined);
    }
  }

  /** Returns null while a streamed write is still open (it is acknowledged when complete). */
  private async handleOp(destination: DestinationRoot, message: ClientMessage, payload: Buffer) {
    switch (message.t) {
      case 'mkdir':
        return destination.mkdir(message.path, message.mode);
      case 'symlink':
        return destination.symlink(message.path, message.target, message.mtimeNs);
      case 'meta':
        return destination.meta(message.path, message.mode, message.mtimeNs);
      case 'delete':
        return destination.delete(message.path, message.expect);
      case 'rename':
        return destination.rename(message.from, message.to);
      case 'write': {
        if (this.writes.has(message.op)) throw new ProtocolError(`write ${message.op} is already open`);
        this.checkOpenWrites();
        const write = destination.beginWrite(message.path, message.size);
        this.writes.set(message.op, { path: message.path, mode: message.mode, mtimeNs: message.mtimeNs, write });
        this.budget.openWrites += 1;
        return this.continueWrite(destination, message.op, payload, message.last);
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

  private async continueWrite(destination: DestinationRoot, op: number, payload: Buffer, last: boolean) {
    const open = this.writes.get(op);
    if (!open) throw new ProtocolError(`chunk for write ${op}, which is not open`);
    try {
      await open.write.append(payload);
      if (!last) return null;
      this.forgetWrite(op);
      return destination.finishWrite(open.path, open.write, open.mode, open.mtimeNs);
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
  private forgetWrite(op: number): AtomicWrite {
    const open = this.writes.get(op);
    if (!open) throw new ProtocolError(`write ${op} is not open`);
    this.writes.delete(op);
    this.budget.openWrites -= 1;
    return open.write;
  }

  private async handleClose(): Promise<void> {
    this.closed = true;
    this.stopListening();
    await this.scheduler.drain();
    // A client that left mid-file leaves no temporary file behind.
    for (const op of [...this.writes.keys()]) this.forgetWrite(op).abort();
  }
}
