/**
 * Real parts for daemon tests: temp homes and state folders, an in-process Daemon or the real detached
 * one started through the built CLI, raw WebSocket clients that send hand-made frames, and a look at
 * /proc to prove no process is left behind. `useDaemonHarness()` registers the cleanup in afterEach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, vi } from 'vitest';
import WebSocket from 'ws';
import { DaemonConnection } from '../../src/client/endpoint/daemon-connection.js';
import { Daemon } from '../../src/remote/daemon.js';
import { getStatePathsIn, type StatePaths } from '../../src/shared/state-dir.js';
import { decodeFrame } from '../../src/shared/codec.js';
import type { Entry } from '../../src/shared/entry.js';
import type { ContentSource } from '../../src/client/endpoint/endpoint.js';
import { getProcessId, signalProcess, type ProcessId } from './processes.js';
import type { Op } from '../../src/shared/plan/types.js';
import { PROTOCOL_VERSION, validateDaemonMessage, type DaemonMessage } from '../../src/shared/protocol.js';
import { VERSION } from '../../src/shared/version.js';

export const BIN = fileURLToPath(new URL('../../bin/sicksync.js', import.meta.url));
const BUILT_MAIN = fileURLToPath(new URL('../../dist/bundle/cli.js', import.meta.url));

/** Unix socket paths are limited to 108 bytes on Linux (104 on macOS); keep a margin. */
const SOCKET_PATH_LIMIT = 100;

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(intervalMs);
  }
}

/** The layout src/shared/state-dir.ts uses under a home, built here so no test depends on $SICKSYNC_STATE_DIR. */
export function getHomeStatePaths(home: string): StatePaths {
  return getStatePathsIn(join(home, '.sicksync'));
}

// ---------------------------------------------------------------------------------------------
// Processes, seen through /proc (Linux): zombies count as gone, since they run nothing.

/** True while `pid` exists and is not a zombie. */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Live processes whose environment holds HOME=<home> (a zombie's environ reads empty). */
export async function listProcessesWithHome(home: string): Promise<number[]> {
  const wanted = `HOME=${home}`;
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let environ: string;
    try {
      environ = await readFile(`/proc/${name}/environ`, 'utf8');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (environ.split('\0').includes(wanted) && (await isRunning(Number(name)))) pids.push(Number(name));
  }
  return pids.sort((a, b) => a - b);
}

export async function getCommandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

/** SIGTERM, then SIGKILL after a deadline: the way the daemon itself is meant to be stopped. */
async function killAll(pids: readonly number[], graceMs = 3000): Promise<void> {
  // Named by pid and start time: a pid reused meanwhile by another test's process is left alone.
  const ids = pids.map(getProcessId).filter((id): id is ProcessId => id !== null);
  for (const id of ids) signalProcess(id, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = [...ids];
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(25);
    left = left.filter((id) => getProcessId(id.pid)?.start === id.start);
    left = (await Promise.all(left.map(async (id) => ((await isRunning(id.pid)) ? id : null)))).filter((id) => id !== null);
  }
  for (const id of left) signalProcess(id, 'SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// Raw clients: hand-made frames in, decoded daemon messages out.

/** A frame as the protocol lays it out: 4-byte big-endian header length, JSON header, payload. */
export function makeFrame(header: unknown, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length, 0);
  return Buffer.concat([prefix, json, payload]);
}

/** Matches the ack or nack of operation `op`. */
export function isAnswerTo(op: number): (message: DaemonMessage) => boolean {
  return (message) => (message.t === 'ack' || message.t === 'nack') && message.op === op;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export class RawClient {
  private readonly inbox: DaemonMessage[] = [];
  private readonly wakers = new Set<() => void>();
  private closeInfo: CloseInfo | null = null;
  /** Frames from the daemon that did not decode: there should never be any. */
  readonly badFrames: string[] = [];
  readonly closed: Promise<CloseInfo>;
  private nextOp = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      try {
        if (!isBinary) throw new Error('text frame');
        const frame = decodeFrame(data as Buffer);
        this.inbox.push(validateDaemonMessage(frame.header));
      } catch (error) {
        this.badFrames.push((error as Error).message);
      }
      this.notify();
    });
    ws.on('error', () => undefined); // reported through 'close'
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.notify();
        resolve(this.closeInfo);
      });
    });
  }

  private notify(): void {
    for (const wake of [...this.wakers]) wake();
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  allocateOp(): number {
    return this.nextOp++;
  }

  sendBytes(data: Buffer | string, binary = true): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(data, { binary }, (error) => (error ? reject(error) : resolve())));
  }

  send(header: unknown, payload?: Uint8Array): Promise<void> {
    return this.sendBytes(makeFrame(header, payload));
  }

  /** The first received message that matches, taken out of the inbox; waits for it if needed. */
  async waitFor(match: (message: DaemonMessage) => boolean, what = 'a matching message', timeoutMs = 5000): Promise<DaemonMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex(match);
      if (index !== -1) return this.inbox.splice(index, 1)[0]!;
      if (this.closeInfo) throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(this.inbox)}`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.wakers.add(wake);
      });
    }
  }

  next(timeoutMs = 5000): Promise<DaemonMessage> {
    return this.waitFor(() => true, 'the next message', timeoutMs);
  }

  /** Everything received and not yet taken. */
  get pending(): readonly DaemonMessage[] {
    return this.inbox;
  }

  async hello(root: string, fields: Record<string, unknown> = {}): Promise<DaemonMessage> {
    await this.send({ t: 'hello', protocol: PROTOCOL_VERSION, version: VERSION, root, excludes: [], client: 'raw-test', ...fields });
    return this.next();
  }

  /** Sends one operation (its `op` id is filled in) and waits for its ack or nack. */
  async op(header: Record<string, unknown>, payload?: Uint8Array): Promise<DaemonMessage> {
    const op = this.allocateOp();
    await this.send({ ...header, op }, payload);
    return this.waitFor(isAnswerTo(op), `the answer to op ${op} (${String(header.t)})`);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

export function openWebSocket(socketPath: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket('ws://sicksync-daemon/', { createConnection: () => connect(socketPath), ...options });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Local files as the client would send them.

/**
 * What the filesystem says of `root/path`, in the wire's Entry shape; null when it is missing. Read
 * here rather than through src's scanner, so an expectation never shares a bug with the code under test.
 */
export async function getEntryAt(root: string, path: string): Promise<Entry | null> {
  const absolute = join(root, path);
  const stats = await lstat(absolute, { bigint: true }).catch(() => null);
  if (!stats) return null;
  const kind = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : null;
  if (!kind) throw new Error(`${absolute} is neither a file, a folder nor a symlink`);
  const entry: Entry = {
    path,
    kind,
    size: kind === 'file' ? Number(stats.size) : 0,
    mode: Number(stats.mode & 0o7777n),
    mtimeNs: stats.mtimeNs.toString(),
    ino: stats.ino.toString(),
  };
  if (kind === 'symlink') entry.target = await readlink(absolute);
  return entry;
}

async function getLocalEntry(localRoot: string, path: string): Promise<Entry> {
  const entry = await getEntryAt(localRoot, path);
  if (!entry) throw new Error(`no local entry at ${path}`);
  return entry;
}

/** The op a push would send for a local path: mkdir, write or symlink by its kind. */
export async function getOpFor(localRoot: string, path: string): Promise<Op> {
  const entry = await getLocalEntry(localRoot, path);
  const kind = entry.kind === 'file' ? 'write' : entry.kind === 'dir' ? 'mkdir' : 'symlink';
  return { kind, side: 'remote', path, entry };
}

export async function getMetaOp(localRoot: string, path: string): Promise<Op> {
  return { kind: 'meta', side: 'remote', path, entry: await getLocalEntry(localRoot, path) };
}

export async function putFile(root: string, path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const absolute = join(root, path);
  await mkdir(join(absolute, '..'), { recursive: true });
  await writeFile(absolute, content);
  await chmod(absolute, mode); // writeFile's mode is filtered by the umask
}

/** Every name under `root`, recursively, as relative paths (symlinks are listed, not followed). */
export async function listTree(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const name of await readdir(join(root, relative))) {
      const path = relative ? `${relative}/${name}` : name;
      found.push(path);
      if ((await lstat(join(root, path))).isDirectory()) await walk(path);
    }
  };
  await walk('');
  return found.sort();
}

// ---------------------------------------------------------------------------------------------
// The harness.

export interface InProcessDaemon {
  daemon: Daemon;
  home: string;
  paths: StatePaths;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface DaemonHarness {
  /** A fresh, empty folder under os.tmpdir() (real path, short), removed after the test. */
  makeDir(prefix?: string): Promise<string>;
  /** A fresh home with its state paths (the daemon's socket stays well under the socket path limit). */
  makeHome(): Promise<{ home: string; paths: StatePaths }>;
  startDaemon(options?: { graceMs?: number; heartbeatMs?: number; home?: string }): Promise<InProcessDaemon>;
  openRaw(socketPath: string, options?: WebSocket.ClientOptions): Promise<RawClient>;
  connect(socketPath: string, root: string, excludes?: readonly string[]): Promise<DaemonConnection>;
  /** Runs the built CLI with HOME=<home> and a minimal environment; resolves when it has exited. */
  runCli(home: string, args: readonly string[], env?: Record<string, string>): Promise<CliResult>;
  cleanup(): Promise<void>;
}

export function createDaemonHarness(): DaemonHarness {
  const dirs: string[] = [];
  const homes = new Set<string>();
  const daemons: Daemon[] = [];
  const rawClients: RawClient[] = [];
  const connections: DaemonConnection[] = [];
  const children: ChildProcess[] = [];

  const makeDir = async (prefix = 'sdt-'): Promise<string> => {
    const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
    dirs.push(dir);
    return dir;
  };

  const makeHome = async (): Promise<{ home: string; paths: StatePaths }> => {
    const home = await makeDir('sdt-home-');
    const paths = getHomeStatePaths(home);
    if (Buffer.byteLength(paths.socket) >= SOCKET_PATH_LIMIT) throw new Error(`socket path too long for a Unix socket: ${paths.socket}`);
    homes.add(home);
    return { home, paths };
  };

  return {
    makeDir,
    makeHome,

    async startDaemon({ graceMs = 60_000, heartbeatMs = 60_000, home } = {}) {
      const chosen = home ?? (await makeHome()).home;
      const paths = getHomeStatePaths(chosen);
      const daemon = new Daemon({ paths, graceMs, heartbeatMs });
      daemons.push(daemon);
      await daemon.start();
      return { daemon, home: chosen, paths };
    },

    async openRaw(socketPath, options = {}) {
      const client = new RawClient(await openWebSocket(socketPath, options));
      rawClients.push(client);
      return client;
    },

    async connect(socketPath, root, excludes = []) {
      const connection = await DaemonConnection.open(
        'ws://sicksync-daemon/',
        'test daemon',
        { root, excludes },
        { createConnection: () => connect(socketPath) },
      );
      connections.push(connection);
      return connection;
    },

    runCli(home, args, env = {}) {
      if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run "npm run build" first (npm test does)`);
      homes.add(home);
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: home,
        // A minimal environment: no SICKSYNC_STATE_DIR, no FORCE_COLOR or NODE_OPTIONS from the test runner.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        // 'close', not 'exit': the output is complete only once both pipes have ended.
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      });
    },

    async cleanup() {
      for (const client of rawClients.splice(0)) client.terminate();
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
      await Promise.all(daemons.splice(0).map((daemon) => daemon.stop()));
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      // Detached daemons are nobody's children: find them by the home they were started with.
      const survivors: number[] = [];
      for (const home of homes) {
        await killAll(await listProcessesWithHome(home));
        survivors.push(...(await listProcessesWithHome(home)));
      }
      homes.clear();
      vi.unstubAllEnvs();
      await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
      if (survivors.length > 0) throw new Error(`processes survived SIGKILL: ${survivors.join(', ')}`);
    },
  };
}

/** A harness whose cleanup runs after every test of the calling file. */
export function useDaemonHarness(): DaemonHarness {
  const harness = createDaemonHarness();
  afterEach(() => harness.cleanup());
  return harness;
}

/** A folder of this machine as the source of the content an operation sends. */
export function folderSource(localRoot: string): ContentSource {
  return { localRoot, read: () => Promise.reject(new Error('content is read from the folder directly')) };
}
