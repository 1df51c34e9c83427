/**
 * The per-user daemon: a WebSocket server on a Unix socket in ~/.sicksync/, serving any number of
 * clients and projects, gone a grace period after its last client.
 */
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../shared/errors.js';
import { attachSocket, queueMessage } from '../shared/socket-io.js';
import { VERSION } from '../shared/version.js';
import { startHeartbeat } from '../shared/heartbeat.js';
import { DaemonBudget } from './budget.js';
import { DAEMON_LIMITS, MAX_FRAME_BYTES } from './limits.js';
import { Session } from './session.js';
import { claimSocket } from './socket-claim.js';
import { startTcpListener, type ListenOptions } from './tcp-listener.js';
import { ensureStateDir, type StatePaths } from '../shared/state-dir.js';

export interface DaemonOptions {
  paths: StatePaths;
  graceMs: number;
  heartbeatMs: number;
  /** The opt-in TCP transport, in addition to the Unix socket. */
  listen?: ListenOptions;
}

export class Daemon {
  private server: Server | null = null;
  private tcpServer: Server | null = null;
  private wss: WebSocketServer | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Sockets accepted on the local socket and not closed yet, upgraded or not. */
  private sockets = 0;
  private clients = 0;
  /** What all connections hold together (limits.ts). */
  private readonly budget = new DaemonBudget();
  private stopped: Promise<void> | null = null;
  private resolveDone: () => void = () => undefined;
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(private readonly options: DaemonOptions) {}

  log(line: string): void {
    const stamp = new Date().toISOString();
    try {
      appendFileSync(this.options.paths.log, `${stamp} [${process.pid}] ${line}\n`);
    } catch {
      // Logging must never take the daemon down (a full disk, a removed folder).
    }
  }

  /** Listens on the socket, or throws DAEMON_START if another daemon already does. */
  async start(): Promise<void> {
    const { paths } = this.options;
    ensureStateDir(paths);
    const server = createServer((_request, response) => {
      response.writeHead(426).end('sicksync daemon: WebSocket only\n');
    });
    // A peer's bad bytes end that peer only: an unhandled 'error' on any of these emitters would
    // take the whole daemon, and every other client, down with it.
    // A client counts from the moment its socket is accepted, not only once its WebSocket upgrade
    // is through: on a loaded host that can take longer than a short grace period.
    server.on('connection', (socket: Duplex) => {
      this.sockets += 1;
      this.cancelIdleExit();
      socket.once('close', () => {
        this.sockets -= 1;
        if (this.clients === 0 && this.sockets === 0) this.scheduleIdleExit();
      });
    });
    server.on('clientError', (error: Error, socket: Duplex) => {
      this.log(`refused a malformed HTTP request: ${error.message}`);
      socket.destroy();
    });
    const wss = new WebSocketServer({ server, maxPayload: MAX_FRAME_BYTES });
    wss.on('error', (error) => this.log(`WebSocket server error: ${error.message}`));
    wss.on('wsClientError', (error, socket) => {
      this.log(`refused a malformed WebSocket upgrade: ${error.message}`);
      socket.destroy();
    });
    wss.on('connection', (ws, request) => {
      request.socket.on('error', () => undefined); // reported through the WebSocket's own 'error'
      attachSocket(ws, request.socket);
      this.handleConnection(ws, request.socket);
    });
    await claimSocket(server, paths);
    this.server = server;
    this.wss = wss;
    if (this.options.listen) {
      try {
        this.tcpServer = await startTcpListener(this.options.listen, wss, (line) => this.log(line));
      } catch (error) {
        await this.stop('the TCP listener could not start');
        throw error;
      }
    }
    writeFileSync(paths.pid, `${process.pid}\n`, { mode: 0o600 });
    this.log(`listening on ${paths.socket} (sicksync ${VERSION}, grace ${this.options.graceMs} ms)`);
    // Clients may have come already: the socket listens from claimSocket on.
    if (this.clients === 0 && this.sockets === 0) this.scheduleIdleExit();
  }

  private handleConnection(ws: import('ws').WebSocket, socket: Duplex): void {
    // ws closes the connection itself after a protocol violation (bad opcode, RSV bits, unmasked or
    // oversized frame, invalid UTF-8: codes 1002, 1007, 1009); all that is left to do is to say so.
    ws.on('error', (error: Error & { code?: string }) => this.log(`dropped a client: ${error.code ?? 'error'}: ${error.message}`));
    if (this.clients >= DAEMON_LIMITS.connections) {
      const message = `the daemon already serves ${this.clients} connections: its limit is ${DAEMON_LIMITS.connections}. Close some and retry.`;
      this.log(`refused a client: ${message}`);
      queueMessage(ws, { t: 'error', error: { code: ErrorCode.LIMIT, message } });
      ws.close(1013, ErrorCode.LIMIT); // 1013: try again later (RFC 6455 registry)
      return;
    }
    this.clients += 1;
    this.cancelIdleExit();
    startHeartbeat(ws, this.options.heartbeatMs, () => this.log('a client stopped answering pings; dropped'));
    new Session(ws, (line) => this.log(line), { budget: this.budget, socket });
    ws.on('close', () => {
      this.clients -= 1;
      if (this.clients === 0 && this.sockets === 0) this.scheduleIdleExit();
    });
  }

  private scheduleIdleExit(): void {
    this.cancelIdleExit();
    if (this.stopped) return; // clients closing during a stop must not re-arm the timer
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.clients > 0 || this.sockets > 0) return; // one came as the timer ran out
      this.log(`no client for ${this.options.graceMs} ms; exiting`);
      void this.stop('idle');
    }, this.options.graceMs);
  }

  private cancelIdleExit(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  get clientCount(): number {
    return this.clients;
  }

  /** `reason` goes to the log: a daemon that stops while clients are connected must say why. */
  stop(reason = 'asked to stop'): Promise<void> {
    if (!this.stopped) this.log(`stopping (${reason}) with ${this.clients} clients connected`);
    this.stopped ??= this.close();
    return this.stopped;
  }

  private async close(): Promise<void> {
    this.cancelIdleExit();
    for (const client of this.wss?.clients ?? []) client.close(1001, 'daemon stopping');
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    // Give clients a moment to see the close frame, then cut whatever is left.
    for (const client of this.wss?.clients ?? []) client.terminate();
    for (const server of [this.server, this.tcpServer]) {
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    const { paths } = this.options;
    rmSync(paths.socket, { force: true });
    rmSync(paths.pid, { force: true });
    this.log('stopped');
    this.resolveDone();
  }
}
