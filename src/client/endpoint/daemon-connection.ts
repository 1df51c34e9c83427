/**
 * The client's side of one connection to a daemon, serving one destination folder: the handshake,
 * requests with their answers, and operations with their acknowledgements.
 */
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import type { Entry, Snapshot } from '../../shared/entry.js';
import { ErrorCode, ProtocolError, SicksyncError, TargetChangedError, getErrorFromWire } from '../../shared/errors.js';
import type { Op } from '../../shared/plan/types.js';
import { PROTOCOL_VERSION, validateDaemonMessage, type ClientMessage, type DaemonMessage } from '../../shared/protocol.js';
import { attachSocket, queueMessage, readMessage, sendMessage } from '../../shared/socket-io.js';
import { startHeartbeat } from '../../shared/heartbeat.js';
import { getHeartbeatMs } from '../../shared/timing.js';
import { VERSION } from '../../shared/version.js';
import type { Capabilities, ChangeListener, ContentSource, Endpoint, OpResult, VersionInfo } from './endpoint.js';
import { isDeltaCandidate, isSmallFile, queueSmallFile, readSmallFile, sendDelta, streamFile } from './send-file.js';
import { decodeSignature, type Signature } from '../../shared/delta.js';

/** Time for the daemon to open the destination folder and welcome us. */
const HANDSHAKE_MS = 30_000;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export interface HelloOptions {
  root: string;
  excludes: readonly string[];
  /** Versions to keep at the destination of what this client replaces there; null: none. */
  history?: { versions: number; days: number } | null;
  /**
   * Send large files as deltas when the daemon can: over a network, not to a folder on this
   * machine, where the daemon would read the old file in full to save nothing on the wire.
   */
  delta?: boolean;
}

/** A `read` in progress: its pieces are handed to the sink one at a time, in order. */
interface Reader {
  sink: (chunk: Buffer) => Promise<void>;
  chain: Promise<void>;
  queued: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Pieces of a read waiting for the sink before the socket is paused. */
const READ_QUEUE = 4;

export class DaemonConnection implements Endpoint {
  private nextId = 1;
  /** Each with the path of its operation, for a refusal that says what is there now. */
  private readonly acks = new Map<number, Waiter<OpResult> & { path: string }>();
  private readonly requests = new Map<number, Waiter<DaemonMessage>>();
  private readonly scanPages = new Map<number, Entry[]>();
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private readonly changeListeners: ChangeListener[] = [];
  private readonly readers = new Map<number, Reader>();
  /** Payloads of `signature-data` answers, taken by the request that asked. */
  private readonly signatures = new Map<number, Buffer>();
  /** Bytes a delta write put on the wire, by op, for its acknowledgement to report. */
  private readonly deltaBytes = new Map<number, number>();
  private readPaused = false;
  host = '';
  capabilities: Capabilities = { watch: false, symlinks: false, modes: false, renames: false };
  private closedReason: string | null = null;
  private sendChain: Promise<void> = Promise.resolve();
  root = '';
  /** Set when the peer stopped answering heartbeats (the transport under it may be hung too). */
  stalled = false;
  daemonVersion = '';
  private useDelta = false;

  private constructor(
    private readonly ws: WebSocket,
    readonly description: string,
  ) {
    ws.on('message', (data, isBinary) => this.handleFrame(data, isBinary));
    ws.on('close', (code, reason) => this.handleClose(reason.toString() || `connection closed (${code})`));
    ws.on('error', (error) => this.handleClose(error.message));
    // A dead peer is given up here, not when its socket says so: over SSH a hung host never
    // confirms the close of the channel (ssh2 Channel.destroy only asks for it).
    startHeartbeat(ws, getHeartbeatMs(), () => {
      this.stalled = true;
      this.handleClose(`no answer to heartbeats for ${(2 * getHeartbeatMs()) / 1000} s`);
    });
  }

  /** Opens a WebSocket on `url` (e.g. `ws+unix:///path/to/daemon.sock:/`) and shakes hands. */
  static async open(
    url: string,
    description: string,
    hello: HelloOptions,
    options: WebSocket.ClientOptions = {},
  ): Promise<DaemonConnection> {
    let socket: Duplex | null = null;
    const { createConnection } = options;
    const ws = new WebSocket(url, {
      maxPayload: 256 * 1024 * 1024,
      handshakeTimeout: 10_000,
      ...options,
      ...(createConnection
        ? {
            // A private channel (Unix socket, SSH): no proxy can sit between us and the daemon, so
            // frames go unmasked (RFC 6455 masks only protect intermediaries); ws skips XOR-ing a
            // zero mask on both ends, which otherwise costs more CPU than the rest of a large file.
            generateMask: (mask: Buffer) => mask.fill(0),
            // Keeps hold of the stream so frames can be corked (socket-io.ts attachSocket).
            createConnection: ((...args: unknown[]) => {
              const created = (createConnection as (...params: unknown[]) => Duplex)(...args);
              socket = created;
              return created;
            }) as typeof createConnection,
          }
        : {}),
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    if (socket) attachSocket(ws, socket);
    const connection = new DaemonConnection(ws, description);
    try {
      await connection.handshake(hello);
    } catch (error) {
      // A refused handshake must not leave the socket open: it would keep this process alive and
      // count as a client at the daemon, which then never reaches its idle exit.
      ws.terminate();
      throw error;
    }
    return connection;
  }

  private async handshake(hello: HelloOptions): Promise<void> {
    const message: ClientMessage = {
      t: 'hello',
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      root: hello.root,
      excludes: [...hello.excludes],
      client: hostname(),
      history: hello.history ?? null,
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new SicksyncError(
            ErrorCode.DAEMON_UNREACHABLE,
            `the daemon for ${this.description} did not answer the handshake within ${HANDSHAKE_MS / 1000} s`,
          ),
        );
        this.ws.terminate();
      }, HANDSHAKE_MS);
    });
    const answer = await Promise.race([this.request(0, message), timeout]).finally(() => clearTimeout(timer));
    if (answer.t !== 'welcome') throw new ProtocolError(`expected a welcome, got '${answer.t}'`);
    if (answer.protocol !== PROTOCOL_VERSION) {
      throw new ProtocolError(`daemon speaks protocol ${answer.protocol}, this client ${PROTOCOL_VERSION}`, ErrorCode.PROTOCOL_VERSION);
    }
    this.root = answer.root;
    this.host = answer.host;
    this.capabilities = answer.capabilities;
    this.useDelta = hello.delta === true && answer.capabilities.delta === true;
    this.daemonVersion = answer.version;
  }

  private allocateId(): number {
    return this.nextId++;
  }

  private request(req: number, message: ClientMessage): Promise<DaemonMessage> {
    return new Promise((resolve, reject) => {
      this.requests.set(req, { resolve, reject });
      sendMessage(this.ws, message).catch((error: Error) => {
        this.requests.delete(req);
        reject(error);
      });
    });
  }

  private handleFrame(data: WebSocket.RawData, isBinary: boolean): void {
    let message: DaemonMessage;
    let payload: Buffer;
    try {
      ({ message, payload } = readMessage(data, isBinary, validateDaemonMessage));
    } catch (error) {
      this.ws.close(1008, 'protocol error');
      this.handleClose(`the daemon sent a malformed frame: ${(error as Error).message}`);
      return;
    }
    this.dispatch(message, payload);
  }

  private dispatch(message: DaemonMessage, payload: Buffer): void {
    switch (message.t) {
      case 'ack':
      case 'nack': {
        const waiter = this.acks.get(message.op);
        if (!waiter) return; // e.g. a second nack for chunks of a write that already failed
        this.acks.delete(message.op);
        const sent = this.deltaBytes.get(message.op);
        this.deltaBytes.delete(message.op);
        if (message.t === 'ack') {
          waiter.resolve({
            entry: message.entry,
            ...(message.note ? { note: message.note } : {}),
            ...(sent === undefined ? {} : { sent }),
          });
        } else if (message.error.code === ErrorCode.TARGET_CHANGED && message.current !== undefined) {
          waiter.reject(new TargetChangedError(waiter.path, message.current));
        } else waiter.reject(getErrorFromWire(message.error));
        return;
      }
      case 'changes':
        for (const listener of this.changeListeners) listener(message.entries, message.gone);
        return;
      case 'data':
        this.takeData(message.req, payload, message.last);
        return;
      case 'versions-list':
        this.settleRequest(message.req, message);
        return;
      case 'scan-page': {
        const entries = this.scanPages.get(message.req) ?? [];
        entries.push(...message.entries);
        this.scanPages.set(message.req, entries);
        if (message.done) this.settleRequest(message.req, message);
        return;
      }
      case 'welcome':
        this.settleRequest(0, message);
        return;
      case 'hashes':
        this.settleRequest(message.req, message);
        return;
      case 'signature-data':
        this.signatures.set(message.req, payload);
        this.settleRequest(message.req, message);
        return;
      case 'error': {
        const error = getErrorFromWire(message.error);
        const reader = message.req === undefined ? undefined : this.readers.get(message.req);
        if (reader && message.req !== undefined) {
          this.readers.delete(message.req);
          void reader.chain.then(() => reader.reject(error));
          return;
        }
        const waiter = this.requests.get(message.req ?? 0);
        if (waiter) {
          this.requests.delete(message.req ?? 0);
          waiter.reject(error);
        } else {
          this.handleClose(error.message);
        }
      }
    }
  }

  private settleRequest(req: number, message: DaemonMessage): void {
    const waiter = this.requests.get(req);
    this.requests.delete(req);
    waiter?.resolve(message);
  }

  onChanges(listener: ChangeListener): void {
    this.changeListeners.push(listener);
  }

  /** Hands a piece of a read to its sink, in order; the socket pauses while the sink lags. */
  private takeData(req: number, payload: Buffer, last: boolean): void {
    const reader = this.readers.get(req);
    if (!reader) return;
    if (last) this.readers.delete(req);
    reader.queued += 1;
    if (reader.queued >= READ_QUEUE && !this.readPaused) {
      this.readPaused = true;
      this.ws.pause();
    }
    reader.chain = reader.chain
      .then(() => reader.sink(payload))
      .finally(() => {
        reader.queued -= 1;
        if (this.readPaused && [...this.readers.values()].every((r) => r.queued < READ_QUEUE / 2)) {
          this.readPaused = false;
          this.ws.resume();
        }
      });
    if (last) reader.chain.then(reader.resolve, reader.reject);
    else reader.chain.catch(() => undefined);
  }

  read(entry: Entry, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    const req = this.allocateId();
    return new Promise<void>((resolve, reject) => {
      this.readers.set(req, { sink, chain: Promise.resolve(), queued: 0, resolve, reject });
      sendMessage(this.ws, { t: 'read', req, path: entry.path, size: entry.size, mtimeNs: entry.mtimeNs }).catch((error: Error) => {
        this.readers.delete(req);
        reject(error);
      });
    });
  }

  async versions(path: string): Promise<VersionInfo[]> {
    const req = this.allocateId();
    const answer = await this.request(req, { t: 'versions', req, path });
    if (answer.t !== 'versions-list') throw new ProtocolError(`expected versions, got '${answer.t}'`);
    return answer.versions.map((version) => ({ ...version, date: new Date(version.date) }));
  }

  private prefetched: { watch: boolean; scan: Promise<Snapshot> } | null = null;

  prefetchScan(watch: boolean): void {
    // A watching scan is followed by change notices, which must find the scan taken in already:
    // one fetched early would be taken in after them, and undo them.
    if (this.prefetched || watch) return;
    const scan = this.requestScan(watch);
    scan.catch(() => undefined); // taken by scan(), or moot once the connection is gone
    this.prefetched = { watch, scan };
  }

  scan(watch: boolean): Promise<Snapshot> {
    const prefetched = this.prefetched;
    this.prefetched = null;
    return prefetched?.watch === watch ? prefetched.scan : this.requestScan(watch);
  }

  private async requestScan(watch: boolean): Promise<Snapshot> {
    const req = this.allocateId();
    await this.request(req, { t: 'scan', req, watch });
    const entries = this.scanPages.get(req) ?? [];
    this.scanPages.delete(req);
    return new Map(entries.map((entry) => [entry.path, entry]));
  }

  /** The delta signature of the destination's file at `path`, which must still be `base`. */
  private async getSignature(path: string, base: Entry): Promise<Signature> {
    const req = this.allocateId();
    try {
      const answer = await this.request(req, { t: 'signature', req, path, size: base.size, mtimeNs: base.mtimeNs });
      if (answer.t !== 'signature-data') throw new ProtocolError(`expected a signature, got '${answer.t}'`);
      return decodeSignature(this.signatures.get(req) ?? Buffer.alloc(0), base.size, answer.blockSize);
    } finally {
      this.signatures.delete(req);
    }
  }

  async hash(paths: readonly string[]): Promise<Map<string, string | null>> {
    const req = this.allocateId();
    const answer = await this.request(req, { t: 'hash', req, paths: [...paths] });
    if (answer.t !== 'hashes') throw new ProtocolError(`expected hashes, got '${answer.t}'`);
    return new Map(Object.entries(answer.hashes));
  }

  apply(op: Op, from: ContentSource): Promise<OpResult> {
    // Content comes from the project folder; from another destination it would be relayed
    // through the project first (the plan never asks for more).
    const localRoot = from.localRoot;
    if (localRoot === undefined) {
      return Promise.reject(new ProtocolError(`${this.description} takes content from a folder on this machine only`));
    }
    const id = this.allocateId();
    const acked = new Promise<OpResult>((resolve, reject) => this.acks.set(id, { resolve, reject, path: op.path }));
    // Small files are read now, in parallel; frames still leave strictly in plan order (a file's
    // chunks before the folder times that follow it), and acknowledgements are awaited in parallel.
    const content = op.kind === 'write' && isSmallFile(op.entry) ? readSmallFile(localRoot, op.entry) : null;
    content?.catch(() => undefined); // handled when its turn to be sent comes
    const sent = this.sendChain.then(() => this.sendOp(id, op, localRoot, content));
    this.sendChain = sent.catch(() => undefined);
    sent.catch((error: unknown) => {
      const waiter = this.acks.get(id);
      this.acks.delete(id);
      waiter?.reject(error instanceof Error ? error : new Error(String(error)));
    });
    return acked;
  }

  private async sendOp(op: number, change: Op, localRoot: string, content: Promise<Buffer> | null): Promise<void> {
    switch (change.kind) {
      // Small frames are queued in order, not awaited: they leave together (socket-io.ts).
      case 'mkdir':
        return queueMessage(this.ws, { t: 'mkdir', op, path: change.path, mode: change.entry.mode });
      case 'symlink':
        return queueMessage(this.ws, {
          t: 'symlink',
          op,
          path: change.path,
          target: change.entry.target ?? '',
          mtimeNs: change.entry.mtimeNs,
          ...getReplaceFields(change),
        });
      case 'meta':
        return queueMessage(this.ws, { t: 'meta', op, path: change.path, mode: change.entry.mode, mtimeNs: change.entry.mtimeNs });
      case 'delete':
        return queueMessage(this.ws, { t: 'delete', op, path: change.path, guard: change.guard });
      case 'rename':
        return queueMessage(this.ws, { t: 'rename', op, from: change.from, to: change.path });
      case 'write': {
        if (content) return queueSmallFile(this.ws, op, change.entry, await content, getReplaceFields(change));
        const base = change.guard?.expect;
        if (this.useDelta && isDeltaCandidate(change.entry, base)) {
          // No signature (the file there changed, or went): the whole file goes, as it would have.
          const signature = this.getSignature(change.path, base).catch(() => null);
          const sent = await sendDelta(this.ws, op, change.entry, localRoot, signature, base, getReplaceFields(change));
          if (sent !== null) {
            this.deltaBytes.set(op, sent);
            return;
          }
        }
        return streamFile(this.ws, op, change.entry, localRoot, getReplaceFields(change));
      }
    }
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closedReason !== null) listener(this.closedReason);
    else this.closeListeners.push(listener);
  }

  private handleClose(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    const error = new SicksyncError(ErrorCode.CONNECTION_LOST, `lost the connection to ${this.description}: ${reason}`);
    for (const waiter of [...this.acks.values(), ...this.requests.values(), ...this.readers.values()]) waiter.reject(error);
    this.acks.clear();
    this.requests.clear();
    this.readers.clear();
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'client done');
    });
  }
}

/** What a write or link op says about its target, as the protocol carries it. */
function getReplaceFields(
  op: Extract<Op, { kind: 'write' | 'symlink' }>,
): Pick<Extract<ClientMessage, { t: 'write' }>, 'guard' | 'keepAs'> {
  return { ...(op.guard ? { guard: op.guard } : {}), ...(op.keepAs === undefined ? {} : { keepAs: op.keepAs }) };
}
