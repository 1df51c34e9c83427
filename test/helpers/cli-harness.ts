/**
 * End-to-end harness: runs the built `bin/sicksync.js` as a real process with a temporary HOME of its
 * own, drives it through its output (model: tsx `tests/utils/process-interact.ts`), compares folders
 * exactly, and checks that nothing started with that HOME outlives the test.
 *
 * Every test gets a fresh HOME, so the daemon's state folder ($HOME/.sicksync), the global file and
 * every process the test caused can be told apart from those of tests running in parallel: a process
 * belongs to a test when its environment holds that HOME (/proc/PID/environ).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { getProcessId, signalProcess } from './processes.js';

export const BIN_SCRIPT = fileURLToPath(new URL('../../bin/sicksync.js', import.meta.url));

/** Short, so the daemon's Unix socket path stays far below the 108-byte limit of sun_path. */
const HOME_PREFIX = path.join(tmpdir(), 'ss-');

export const GRACE_MS = 300;
const HEARTBEAT_MS = 1000;
const RUN_TIMEOUT_MS = 30_000;
const WAIT_TIMEOUT_MS = 15_000;
/** How long after the last client a daemon may take to be gone: its grace period plus start-up slack. */
const LINGER_MS = GRACE_MS + 4000;

/** `(node:123) Warning: …`, `(node:123) [DEP0040] DeprecationWarning: …`: node's own warnings. */
const NODE_WARNING = /^\(node:\d+\) (\[\w+\] )?\w*Warning:/m;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working folder of the process; default: the test's HOME. */
  cwd?: string;
  /** Extra environment on top of the test's. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** A command that runs sicksync (node, its script and arguments follow), such as `unshare ...`. */
  prefix?: readonly string[];
}

export interface LineMatch {
  line: string;
  /** Index of the line among every line the process printed (stdout and stderr interleaved). */
  index: number;
  match: RegExpMatchArray;
}

export interface ProcessInfo {
  pid: number;
  cmdline: string;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Processes whose environment holds HOME=home (zombies have an empty environ and are skipped). */
export async function listProcessesWithHome(home: string): Promise<ProcessInfo[]> {
  const wanted = `HOME=${home}`;
  const found: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const environ = (await readFile(`/proc/${name}/environ`, 'utf8')).split('\0');
      if (!environ.includes(wanted)) continue;
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
      found.push({ pid, cmdline });
    } catch {
      // Gone between readdir and read, or not ours to read: either way not a process of this test.
    }
  }
  return found;
}

/** The daemons of one HOME: `sicksync remote daemon` processes, however they were started. */
export async function listDaemons(home: string): Promise<ProcessInfo[]> {
  return (await listProcessesWithHome(home)).filter((info) => /\bremote daemon\b/.test(info.cmdline));
}

function formatProcesses(processes: readonly ProcessInfo[]): string {
  return processes.map((info) => `  pid ${info.pid}: ${info.cmdline}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Polling

export interface WaitOptions {
  intervalMs?: number;
  /** What to say when the time is up, e.g. the difference still left. */
  describe?: () => string | Promise<string>;
}

/** Polls `predicate` until it holds; throws after `timeoutMs` with `describe()` when given. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number = WAIT_TIMEOUT_MS,
  { intervalMs = 50, describe }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) {
      const detail = describe ? `:\n${await describe()}` : '';
      throw new Error(`condition not met within ${timeoutMs} ms${detail}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Folders

export type TreeEntry =
  | { kind: 'file'; size: number; sha256: string; mode: number; mtimeNs: bigint }
  | { kind: 'dir'; mode: number; mtimeNs: bigint }
  | { kind: 'symlink'; target: string; mtimeNs: bigint };

/** Relative POSIX path → what is there. The root itself is not an entry. */
export type Tree = Record<string, TreeEntry>;

export interface TreeOptions {
  /** Leaves out a path (and, for a folder, everything in it). */
  exclude?: (relativePath: string, kind: TreeEntry['kind']) => boolean;
  /** Also list `.sicksync/` at the top (each side's version history), which is never synced. */
  withHistory?: boolean;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reads a folder into a Tree; a missing folder is an empty tree. */
export async function treeOf(dir: string, { exclude, withHistory = false }: TreeOptions = {}): Promise<Tree> {
  const tree: Tree = {};
  const walk = async (relative: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(path.join(dir, relative));
    } catch (error) {
      // A folder removed while we read it (live sync) is simply not there.
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
      throw error;
    }
    for (const name of names.sort()) {
      if (relative === '' && name === '.sicksync' && !withHistory) continue;
      const rel = relative ? `${relative}/${name}` : name;
      const absolute = path.join(dir, rel);
      let stats;
      try {
        stats = await lstat(absolute, { bigint: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const mode = Number(stats.mode & 0o7777n);
      if (stats.isDirectory()) {
        if (exclude?.(rel, 'dir')) continue;
        tree[rel] = { kind: 'dir', mode, mtimeNs: stats.mtimeNs };
        await walk(rel);
      } else if (stats.isSymbolicLink()) {
        if (exclude?.(rel, 'symlink')) continue;
        let target: string;
        try {
          target = await readlink(absolute);
        } catch (error) {
          // Replaced or removed since the lstat (live sync): not there as a link any more.
          if (['ENOENT', 'EINVAL'].includes((error as NodeJS.ErrnoException).code ?? '')) continue;
          throw error;
        }
        tree[rel] = { kind: 'symlink', target, mtimeNs: stats.mtimeNs };
      } else if (stats.isFile()) {
        if (exclude?.(rel, 'file')) continue;
        let sha256: string;
        try {
          sha256 = await hashFile(absolute);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw error;
        }
        tree[rel] = { kind: 'file', size: Number(stats.size), sha256, mode, mtimeNs: stats.mtimeNs };
      }
    }
  };
  await walk('');
  return tree;
}

export interface DiffOptions {
  /**
   * Compare the mtimes of symlinks too. Off by default: whether a link's own time is kept is a
   * separate question from whether its target is (see the dedicated test in once.test.ts).
   */
  symlinkMtimes?: boolean;
}

/** utimes() takes a double of seconds, so a copied mtime may be off by up to ~240 ns (libuv uv_fs_utime). */
const MTIME_TOLERANCE_NS = 1000n;

const octal = (mode: number): string => `0${mode.toString(8)}`;

/**
 * Every difference between `actual` and `expected`, one line each; empty when they agree.
 * Lines read as "actual vs expected".
 */
export function diffTrees(actual: Tree, expected: Tree, { symlinkMtimes = false }: DiffOptions = {}): string[] {
  const lines: string[] = [];
  const paths = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
  for (const p of paths) {
    const a = actual[p];
    const e = expected[p];
    if (!a) {
      lines.push(`${p}: missing (expected a ${e!.kind})`);
      continue;
    }
    if (!e) {
      lines.push(`${p}: unexpected ${a.kind}`);
      continue;
    }
    if (a.kind !== e.kind) {
      lines.push(`${p}: is a ${a.kind}, expected a ${e.kind}`);
      continue;
    }
    if (a.kind === 'file' && e.kind === 'file') {
      if (a.size !== e.size || a.sha256 !== e.sha256) lines.push(`${p}: content differs (${a.size} B vs ${e.size} B)`);
      if (a.mode !== e.mode) lines.push(`${p}: mode ${octal(a.mode)} vs ${octal(e.mode)}`);
    } else if (a.kind === 'dir' && e.kind === 'dir') {
      if (a.mode !== e.mode) lines.push(`${p}/: mode ${octal(a.mode)} vs ${octal(e.mode)}`);
    } else if (a.kind === 'symlink' && e.kind === 'symlink') {
      if (a.target !== e.target) lines.push(`${p}: link to ${a.target} vs ${e.target}`);
      if (!symlinkMtimes) continue;
    }
    const delta = a.mtimeNs - e.mtimeNs;
    if (delta <= -MTIME_TOLERANCE_NS || delta >= MTIME_TOLERANCE_NS) {
      lines.push(`${p}${a.kind === 'dir' ? '/' : ''}: mtime ${a.mtimeNs} vs ${e.mtimeNs} (off by ${delta} ns)`);
    }
  }
  return lines;
}

/** Differences between the folder `actualDir` and the folder `expectedDir` (read with `options`). */
export async function diffFolders(actualDir: string, expectedDir: string, options: TreeOptions & DiffOptions = {}): Promise<string[]> {
  const [actual, expected] = await Promise.all([treeOf(actualDir), treeOf(expectedDir, options)]);
  return diffTrees(actual, expected, options);
}

/** Polls until `actualDir` equals `expectedDir` (filtered by `options.exclude`); the timeout shows what still differs. */
export async function waitForSameTree(
  actualDir: string,
  expectedDir: string,
  options: TreeOptions & DiffOptions = {},
  timeoutMs = WAIT_TIMEOUT_MS,
): Promise<void> {
  let last: string[] = [];
  await waitFor(
    async () => {
      last = await diffFolders(actualDir, expectedDir, options);
      return last.length === 0;
    },
    timeoutMs,
    { intervalMs: 100, describe: () => `${actualDir} still differs from ${expectedDir}:\n  ${last.slice(0, 40).join('\n  ')}` },
  );
}

/**
 * The content of every file under `folder` (history and conflict copies included), for tests that
 * look for a version anywhere on a side; a missing folder holds none.
 */
export async function readFileContents(folder: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw error;
  }
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) out.push(...(await readFileContents(full)));
    else if (entry.isFile()) out.push(await readFile(full, 'utf8'));
  }
  return out;
}

/** Writes `content` to `file`, creating its folders; `mode` is applied exactly (umask aside). */
export async function put(file: string, content: string | Uint8Array, mode?: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  if (mode !== undefined) await chmod(file, mode);
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await put(file, `${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

/** A sicksync process started in the background, driven through the lines it prints. */
export class CliProcess {
  readonly child: ChildProcess;
  /** Every complete line of stdout and stderr, in the order they arrived (per stream order kept). */
  readonly lines: string[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private result: CliResult | null = null;
  private readonly listeners = new Set<() => void>();
  private partial = { stdout: '', stderr: '' };

  constructor(
    readonly args: readonly string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; prefix?: readonly string[] },
  ) {
    const [command, ...rest] = [...(options.prefix ?? []), process.execPath, BIN_SCRIPT, ...args];
    this.child = spawn(command!, rest, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.handleData('stdout', chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.handleData('stderr', chunk));
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', reject);
      // 'close', not 'exit': by then both streams are drained, so the output is complete.
      this.child.once('close', (code, signal) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (this.partial[stream]) this.lines.push(this.partial[stream]);
          this.partial[stream] = '';
        }
        this.result = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.notify();
        resolve(this.result);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get isRunning(): boolean {
    return this.result === null;
  }

  /** The whole output so far, for failure messages. */
  get output(): string {
    return (
      this.lines.join('\n') +
      (this.partial.stdout ? `\n${this.partial.stdout}` : '') +
      (this.partial.stderr ? `\n${this.partial.stderr}` : '')
    );
  }

  private handleData(stream: 'stdout' | 'stderr', chunk: string): void {
    this[stream] += chunk;
    const text = this.partial[stream] + chunk;
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    this.lines.push(...parts);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private describe(reason: string): Error {
    return new Error(`sicksync ${this.args.join(' ')} (pid ${this.pid}): ${reason}. Output so far:\n${this.output || '(none)'}`);
  }

  /**
   * Resolves with the first line at or after `fromLine` that matches `pattern`. Fails when the
   * process exits first, or after `timeoutMs`, with everything it printed.
   */
  waitForLine(
    pattern: RegExp,
    { timeoutMs = WAIT_TIMEOUT_MS, fromLine = 0 }: { timeoutMs?: number; fromLine?: number } = {},
  ): Promise<LineMatch> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(this.describe(`no line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = (): void => {
        for (let index = fromLine; index < this.lines.length; index += 1) {
          const line = this.lines[index]!;
          const match = line.match(pattern);
          if (match) {
            finish();
            resolve({ line, index, match });
            return;
          }
        }
        if (this.result) {
          finish();
          reject(
            this.describe(`exited (code ${this.result.code}, signal ${this.result.signal}) before printing a line matching ${pattern}`),
          );
        }
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends a signal (default SIGINT, as Ctrl-C would) unless the process is gone already. */
  kill(signal: NodeJS.Signals = 'SIGINT'): void {
    if (this.isRunning) this.child.kill(signal);
  }

  /** Waits for the exit; after `timeoutMs` kills the process and fails with its output. */
  async waitForExit(timeoutMs = WAIT_TIMEOUT_MS): Promise<CliResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const error = this.describe(`did not exit within ${timeoutMs} ms`);
        this.kill('SIGKILL');
        reject(error);
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGINT, then the exit. */
  async stop(timeoutMs = WAIT_TIMEOUT_MS): Promise<CliResult> {
    this.kill('SIGINT');
    return this.waitForExit(timeoutMs);
  }
}

/** One test's world: its HOME, its processes, and the checks run when it ends. */
export class CliHarness {
  private homeDir: string | null = null;
  private readonly started: CliProcess[] = [];
  private readonly outputs: { args: readonly string[]; stderr: string; stdout: string }[] = [];

  /** The test's HOME (a real path, no symlinks). */
  get home(): string {
    if (!this.homeDir) throw new Error('the CLI harness is used outside a test');
    return this.homeDir;
  }

  /** A path under HOME. */
  path(...parts: string[]): string {
    return path.join(this.home, ...parts);
  }

  get env(): NodeJS.ProcessEnv {
    return {
      // PATH only for tools a child may look up; no NODE_OPTIONS, SICKSYNC_STATE_DIR or the like leaks in.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      SICKSYNC_DAEMON_GRACE_MS: String(GRACE_MS),
      SICKSYNC_HEARTBEAT_MS: String(HEARTBEAT_MS),
      FORCE_COLOR: '0',
    };
  }

  async setUp(): Promise<void> {
    this.homeDir = await realpath(await mkdtemp(HOME_PREFIX));
  }

  /** Runs sicksync to its end. Fails (after killing it) when it takes longer than `timeoutMs`. */
  runCli(args: readonly string[], { cwd, env, timeoutMs = RUN_TIMEOUT_MS }: CliOptions = {}): Promise<CliResult> {
    const cli = this.startCli(args, { cwd: cwd ?? this.home, ...(env ? { env } : {}) });
    return cli.waitForExit(timeoutMs);
  }

  /** Starts sicksync in the background; drive it with the handle's `waitForLine`, `stop`, `waitForExit`. */
  startCli(args: readonly string[], { cwd, env, prefix }: Omit<CliOptions, 'timeoutMs'> = {}): CliProcess {
    const cli = new CliProcess(args, { cwd: cwd ?? this.home, env: { ...this.env, ...env }, prefix });
    this.started.push(cli);
    void cli.exited.then(
      (result) => this.outputs.push({ args, stdout: result.stdout, stderr: result.stderr }),
      () => undefined,
    );
    return cli;
  }

  /** The processes of this test still alive (its CLIs, their children, the daemon). */
  listProcesses(): Promise<ProcessInfo[]> {
    return listProcessesWithHome(this.home);
  }

  listDaemons(): Promise<ProcessInfo[]> {
    return listDaemons(this.home);
  }

  /** The daemon's log ($HOME/.sicksync/daemon.log), or '' when no daemon ever ran. */
  async readDaemonLog(): Promise<string> {
    return readFile(this.path('.sicksync', 'daemon.log'), 'utf8').catch(() => '');
  }

  /**
   * Waits out the daemon's grace period (and a margin) for every process of this test to be gone;
   * fails naming those that remain.
   */
  async expectNoProcessesLeft(timeoutMs = LINGER_MS): Promise<void> {
    let left: ProcessInfo[] = [];
    await waitFor(
      async () => {
        left = await this.listProcesses();
        return left.length === 0;
      },
      timeoutMs,
      {
        describe: async () =>
          `processes with HOME=${this.home} are still running:\n${formatProcesses(left)}\ndaemon log:\n${await this.readDaemonLog()}`,
      },
    );
  }

  /**
   * Stops what the test left running, removes HOME, and fails the test if a process outlived it or
   * node printed a warning. A CLI still running is a mistake of a test that passed; one that failed
   * has already said why, so its CLIs are only stopped (SIGINT, as a person would, then SIGKILL).
   */
  async tearDown({ testFailed = false }: { testFailed?: boolean } = {}): Promise<void> {
    if (!this.homeDir) return;
    const problems: string[] = [];
    const running = this.started.filter((cli) => cli.isRunning);
    for (const cli of running) {
      if (!testFailed)
        problems.push(`sicksync ${cli.args.join(' ')} (pid ${cli.pid}) was still running at the end of the test; output:\n${cli.output}`);
      cli.kill('SIGINT');
    }
    await Promise.all(
      running.map((cli) =>
        cli.waitForExit(5000).catch((error: unknown) => {
          problems.push(`after SIGINT at the end of the test: ${(error as Error).message}`);
        }),
      ),
    );
    let left: ProcessInfo[] = [];
    try {
      await waitFor(async () => {
        left = await this.listProcesses();
        return left.length === 0;
      }, LINGER_MS);
    } catch {
      problems.push(
        `processes left behind ${LINGER_MS} ms after the test (the daemon's grace is ${GRACE_MS} ms):\n${formatProcesses(left)}`,
      );
      // By pid and start time: a pid freed meanwhile may already be another test's process.
      for (const id of left.map((info) => getProcessId(info.pid))) if (id) signalProcess(id, 'SIGKILL');
    }
    for (const { args, stdout, stderr } of this.outputs) {
      if (NODE_WARNING.test(stderr) || NODE_WARNING.test(stdout))
        problems.push(`sicksync ${args.join(' ')} printed a node warning:\n${stderr}`);
    }
    const log = await this.readDaemonLog();
    if (NODE_WARNING.test(log)) problems.push(`the daemon logged a node warning:\n${log}`);
    // SICKSYNC_E2E_KEEP=1 keeps the HOME of a failed test to look at (its path is in the failure).
    if (testFailed && process.env.SICKSYNC_E2E_KEEP === '1') problems.push(`kept HOME ${this.homeDir}`);
    else await rm(this.homeDir, { recursive: true, force: true, maxRetries: 3 });
    this.homeDir = null;
    this.started.length = 0;
    this.outputs.length = 0;
    if (problems.length > 0) throw new Error(problems.join('\n\n'));
  }
}

/**
 * Registers the harness's hooks in the calling test file: each test gets its own HOME, and ends
 * with nothing left running. Use the returned object inside tests only.
 */
export function useCliHarness(): CliHarness {
  const harness = new CliHarness();
  beforeEach(() => harness.setUp());
  afterEach((context) => harness.tearDown({ testFailed: context.task.result?.state === 'fail' }));
  return harness;
}

/** Lines of `text` that are not empty. */
export function nonEmptyLines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}
