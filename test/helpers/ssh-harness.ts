/**
 * End-to-end harness for SSH destinations: the CLI harness (a client HOME of its own) plus real
 * OpenSSH hosts on loopback (see sshd.ts), each with a remote HOME of its own. Every process a test
 * causes, on the client or on a host, holds one of those HOMEs in its environment, so "nothing left
 * behind" is read from /proc/PID/environ for all of them at once.
 *
 * Each test file passes its own block of loopback addresses (127.0.0.N) so files that run in
 * parallel never share an address.
 */
import { readdir, readFile, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import {
  CliHarness,
  diffFolders,
  GRACE_MS,
  listProcessesWithHome,
  waitFor,
  type CliResult,
  type ProcessInfo,
  type TreeOptions,
} from './cli-harness.js';
import { createSshHost, type SshHost } from './sshd.js';
import { getProcessId, signalProcess, type ProcessId } from './processes.js';

/** Grace period of the daemons, plus slack for them to notice their last client left. */
const LINGER_MS = GRACE_MS + 5000;

export interface TestHost extends SshHost {
  /** Where the host keeps its keys, sshd config and home. */
  root: string;
  /** A path under the remote HOME. */
  path(...parts: string[]): string;
}

export interface HostOptions {
  alias: string;
  withNode?: boolean;
  trusted?: boolean;
  /** sshd_config lines that take precedence over the defaults (`DisableForwarding yes`). */
  extraConfig?: string[];
  /** authorized_keys options for the client's key (`restrict`). */
  keyOptions?: string;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Parent pid of every live process. */
async function readParents(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may hold spaces: read after its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
    } catch {
      // Gone meanwhile.
    }
  }
  return parents;
}

/** Every descendant of `pid` (children, grandchildren, ...), not `pid` itself. */
export async function listDescendants(pid: number): Promise<number[]> {
  const parents = await readParents();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent === current && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** The processes of `pids` as they are now, so that a later signal cannot reach a pid reused meanwhile. */
function identify(pids: readonly number[]): ProcessId[] {
  return pids.map(getProcessId).filter((id): id is ProcessId => id !== null);
}

export function formatProcesses(processes: readonly ProcessInfo[]): string {
  return processes.map((info) => `  pid ${info.pid}: ${info.cmdline}`).join('\n');
}

// ---------------------------------------------------------------------------------------------
// The harness

export class SshHarness {
  readonly hosts: TestHost[] = [];
  private nextIndex: number;

  constructor(
    readonly cli: CliHarness,
    /** The loopback addresses this test file may use: 127.0.0.<first> to 127.0.0.<last>. */
    private readonly addresses: { first: number; last: number },
  ) {
    this.nextIndex = addresses.first;
  }

  /** Starts a new sshd on the next free address of this file, known to the client as `alias`. */
  async addHost(options: HostOptions): Promise<TestHost> {
    const index = this.nextIndex;
    if (index > this.addresses.last) throw new Error(`this test file may use 127.0.0.${this.addresses.first}-${this.addresses.last} only`);
    this.nextIndex += 1;
    // Short, so <home>/.sicksync/daemon.sock stays far below the 108-byte limit of sun_path.
    const root = await realpath(await mkdtemp(path.join(tmpdir(), 'sh-')));
    const host = await createSshHost({ root, index, clientHome: this.cli.home, ...options });
    const testHost: TestHost = Object.assign(host, { root, path: (...parts: string[]) => path.join(host.home, ...parts) });
    this.hosts.push(testHost);
    return testHost;
  }

  /**
   * The host goes away as a crashed or rebooted machine's sshd would: the listener stops and every
   * open SSH connection to it is cut. (Stopping the listener alone leaves the connections it
   * accepted running, since each is served by a process of its own.) With `hard`, every one of
   * them, the listener included, gets SIGKILL.
   */
  async cutHost(host: TestHost, { hard = false }: { hard?: boolean } = {}): Promise<void> {
    const pid = Number((await readFile(path.join(host.root, 'sshd.pid'), 'utf8')).trim());
    const sessions = identify(await listDescendants(pid));
    // hard: kill -9 of the listener too, as an OOM killer or a crash would.
    if (hard) killQuietly(pid, 'SIGKILL');
    await host.stop();
    for (const child of sessions) signalProcess(child, 'SIGKILL');
  }

  /**
   * The host stops answering without closing anything, as a machine that hangs or a network that
   * drops every packet would: every process serving an open SSH connection is stopped (SIGSTOP).
   * Returns a function that ends those connections for good (SIGKILL; their TCP connections close).
   */
  async freezeHost(host: TestHost): Promise<() => void> {
    const pid = Number((await readFile(path.join(host.root, 'sshd.pid'), 'utf8')).trim());
    const sessions = identify(await listDescendants(pid));
    for (const child of sessions) signalProcess(child, 'SIGSTOP');
    return () => {
      for (const child of sessions) signalProcess(child, 'SIGKILL');
    };
  }

  /** The remote daemons of a host: `remote daemon` processes with its HOME. */
  async listRemoteDaemons(host: TestHost): Promise<ProcessInfo[]> {
    return (await listProcessesWithHome(host.home)).filter((info) => /\bremote daemon\b/.test(info.cmdline));
  }

  /**
   * The SSH connections a host is still serving: the processes under its sshd listener (they run
   * with sshd's environment, not the remote HOME, so the HOME check alone would not see them).
   */
  async listSessions(host: TestHost): Promise<ProcessInfo[]> {
    let pid: number;
    try {
      pid = Number((await readFile(path.join(host.root, 'sshd.pid'), 'utf8')).trim());
      if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(host.root)) return [];
    } catch {
      return []; // sshd is not running
    }
    const sessions: ProcessInfo[] = [];
    for (const child of await listDescendants(pid)) {
      const cmdline = await readFile(`/proc/${child}/cmdline`, 'utf8').catch(() => '');
      if (cmdline) sessions.push({ pid: child, cmdline: cmdline.split('\0').filter(Boolean).join(' ') });
    }
    return sessions;
  }

  /** Every process that holds the client HOME or a remote HOME of this test, and every open SSH session to its hosts. */
  async listProcesses(): Promise<{ home: string; processes: ProcessInfo[] }[]> {
    const homes = [this.cli.home, ...this.hosts.map((host) => host.home)];
    const byHome = await Promise.all(homes.map(async (home) => ({ home, processes: await listProcessesWithHome(home) })));
    const sessions = await Promise.all(
      this.hosts.map(async (host) => ({
        home: `${host.home} (SSH sessions still open on ${host.alias})`,
        processes: await this.listSessions(host),
      })),
    );
    return [...byHome, ...sessions];
  }

  /** Waits out the daemons' grace period for every process of this test, client and hosts, to be gone. */
  async expectNoProcessesLeft(timeoutMs = LINGER_MS): Promise<void> {
    let left: { home: string; processes: ProcessInfo[] }[] = [];
    await waitFor(
      async () => {
        left = (await this.listProcesses()).filter((entry) => entry.processes.length > 0);
        return left.length === 0;
      },
      timeoutMs,
      {
        describe: async () => {
          const logs = await Promise.all(
            this.hosts.map(
              async (host) =>
                `daemon log of ${host.alias}:\n${await readFile(host.path('.sicksync', 'daemon.log'), 'utf8').catch(() => '(none)')}`,
            ),
          );
          return `${left.map((entry) => `processes of ${entry.home} are still running:\n${formatProcesses(entry.processes)}`).join('\n')}\n${logs.join('\n')}`;
        },
      },
    );
  }

  /** Stops every host (cutting its connections), kills what holds a remote HOME, removes the hosts. */
  async tearDown(): Promise<void> {
    const problems: string[] = [];
    const hosts = this.hosts.splice(0);
    for (const host of hosts) {
      let left: ProcessInfo[] = [];
      try {
        await waitFor(async () => (left = await listProcessesWithHome(host.home)).length === 0, LINGER_MS);
      } catch {
        problems.push(`processes left behind on ${host.alias} (HOME=${host.home}):\n${formatProcesses(left)}`);
        for (const id of identify(left.map((info) => info.pid))) signalProcess(id, 'SIGKILL');
      }
      await this.cutHost(host).catch(() => host.stop());
      await rm(host.root, { recursive: true, force: true, maxRetries: 3 });
    }
    this.nextIndex = this.addresses.first;
    if (problems.length > 0) throw new Error(problems.join('\n\n'));
  }
}

/**
 * Registers the hooks of a test file that uses SSH hosts: each test gets a fresh client HOME (the CLI
 * harness) and ends with the client's processes ended first, then the hosts'.
 */
export function useSshHarness(addresses: { first: number; last: number }): SshHarness {
  const cli = new CliHarness();
  const harness = new SshHarness(cli, addresses);
  beforeEach(() => cli.setUp());
  afterEach(async () => {
    // Both run whatever the other found: a failed check must not leave sshd or a daemon running.
    const results = await Promise.allSettled([cli.tearDown()]);
    results.push(...(await Promise.allSettled([harness.tearDown()])));
    const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failures.length > 0)
      throw new Error(failures.map((failure) => String((failure.reason as Error).message ?? failure.reason)).join('\n\n'));
  });
  return harness;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The whole output of a finished run, for assertion messages. */
export function describeRun(result: CliResult): string {
  return `exit ${result.code} (signal ${result.signal})\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * How far a copied mtime may be off in the convergence checks of the SSH tests. The destination sets
 * times with utimes(), which takes a double of seconds that libuv (uv__fs_to_timespec, libuv 1.46 in
 * Node 20) then truncates to whole microseconds: a copy can land up to ~1.1 µs early, beyond the CLI
 * harness's 1 µs. That loss is pinned by its own test (converge.test.ts, "keeps an mtime within a
 * microsecond ..."); elsewhere it must not make unrelated checks fail at random.
 */
export const COPIED_MTIME_TOLERANCE_NS = 2000n;

/** diffFolders, minus mtime differences below COPIED_MTIME_TOLERANCE_NS. */
export async function diffSynced(actualDir: string, expectedDir: string, options: TreeOptions = {}): Promise<string[]> {
  const lines = await diffFolders(actualDir, expectedDir, options);
  return lines.filter((line) => {
    const off = /: mtime \d+ vs \d+ \(off by (-?\d+) ns\)$/.exec(line);
    if (!off) return true;
    const delta = BigInt(off[1]!);
    return delta <= -COPIED_MTIME_TOLERANCE_NS || delta >= COPIED_MTIME_TOLERANCE_NS;
  });
}

/** Polls until `actualDir` matches `expectedDir` as diffSynced sees it; the timeout shows what still differs. */
export async function waitForSynced(actualDir: string, expectedDir: string, options: TreeOptions = {}, timeoutMs = 20_000): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => (last = await diffSynced(actualDir, expectedDir, options)).length === 0, timeoutMs, {
    intervalMs: 100,
    describe: () => `${actualDir} still differs from ${expectedDir}:\n  ${last.slice(0, 40).join('\n  ')}`,
  });
}
