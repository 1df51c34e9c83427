/**
 * `sicksync remote daemon | start-daemon | stop | status`: what the client runs on a host (over SSH,
 * or locally for local destinations), and what a person may run too. Output is plain lines.
 */
import { READY_PREFIX } from '../shared/remote-contract.js';
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { daemonizeProcess } from 'daemonize-process';
import { ErrorCode, SicksyncError } from '../shared/errors.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import { VERSION } from '../shared/version.js';
import { Daemon } from './daemon.js';
import { isSocketLive } from './socket-claim.js';
import { ensureStateDir, getLogTail, type StatePaths } from '../shared/state-dir.js';
import type { ListenOptions } from './tcp-listener.js';

/** The one line `start-daemon` prints; the client looks for this prefix and ignores any other output. */

export interface DaemonSettings {
  paths: StatePaths;
  graceMs: number;
  heartbeatMs: number;
  listen?: ListenOptions;
}

/** The flags that hand `settings.listen` on to the detached daemon. */
function getListenArgs(listen: ListenOptions | undefined): string[] {
  if (!listen) return [];
  return [
    '--listen',
    listen.url,
    '--token-file',
    listen.tokenFile,
    ...(listen.cert ? ['--cert', listen.cert] : []),
    ...(listen.key ? ['--key', listen.key] : []),
  ];
}

function readPid(paths: StatePaths): number | null {
  try {
    const pid = Number(readFileSync(paths.pid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A zombie (exited, not yet reaped by its parent) counts as gone. */
function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false; // no /proc (not Linux): kill(pid, 0) alone decides
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs the daemon in this process until it exits; with `detach`, first re-spawns itself detached. */
export async function runDaemon(settings: DaemonSettings, detach: boolean): Promise<number> {
  ensureStateDir(settings.paths);
  if (detach) {
    const log = openSync(settings.paths.log, 'a', 0o600);
    // Returns at once in the detached child (daemonize-process marks it through the environment);
    // in this process it spawns that child and exits.
    daemonizeProcess({ stdio: ['ignore', log, log], cwd: settings.paths.dir });
    closeSync(log);
  }
  const daemon = new Daemon(settings);
  try {
    await daemon.start();
  } catch (error) {
    // Lost the race to another daemon started at the same moment: that one serves everybody.
    if (error instanceof SicksyncError && error.code === ErrorCode.DAEMON_START) {
      daemon.log(`not starting: ${error.message}`);
      return 0;
    }
    throw error;
  }
  const stop = (signal: NodeJS.Signals): void => void daemon.stop(`${signal}`);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('SIGHUP', stop);
  await daemon.done;
  return 0;
}

/**
 * Makes sure a daemon listens, starting one detached when none does; returns the ready line.
 * `script` is the entry this program was started from, so the daemon runs the same code.
 */
export async function startDaemon(settings: DaemonSettings, script: string): Promise<string> {
  ensureStateDir(settings.paths);
  if (await isSocketLive(settings.paths.socket)) {
    if (settings.listen) validateRunningListener(settings.paths, settings.listen.url);
  } else {
    const args = [script, 'remote', 'daemon', '--detach', ...getListenArgs(settings.listen)];
    const env = {
      ...process.env,
      SICKSYNC_DAEMON_GRACE_MS: String(settings.graceMs),
      SICKSYNC_HEARTBEAT_MS: String(settings.heartbeatMs),
    };
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: 'ignore', env, cwd: settings.paths.dir });
      child.once('error', reject);
      child.once('exit', () => resolve());
    });
    await waitForDaemon(settings.paths);
  }
  const ready = {
    pid: readPid(settings.paths),
    socket: settings.paths.socket,
    version: VERSION,
    protocol: PROTOCOL_VERSION,
    ...(settings.listen ? { listen: settings.listen.url, tokenFile: settings.listen.tokenFile } : {}),
  };
  return READY_PREFIX + JSON.stringify(ready);
}

/** The `--listen` URL a running daemon was started with, read from its command line; null if none or unknown. */
function readListenUrl(pid: number): string | null {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const at = args.indexOf('--listen');
    return at === -1 ? null : (args[at + 1] ?? null);
  } catch {
    return null;
  }
}

/**
 * A daemon that already runs keeps the listeners it started with: the ready line must not promise a
 * TCP listener it does not have (a client would then wait on a port nothing listens on).
 */
function validateRunningListener(paths: StatePaths, url: string): void {
  const pid = readPid(paths);
  const running = pid === null ? null : readListenUrl(pid);
  if (running === url) return;
  const has = running ? `listens on ${running}` : 'has no TCP listener';
  throw new SicksyncError(
    ErrorCode.DAEMON_START,
    `a daemon is already running (pid ${pid ?? 'unknown'}) and ${has}, not ${url}. ` +
      `Stop it with \`sicksync remote stop\`, then run \`sicksync remote start-daemon --listen ${url}\` again.`,
  );
}

async function waitForDaemon(paths: StatePaths): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if ((await isSocketLive(paths.socket)) && readPid(paths) !== null) return;
    await sleep(25);
  }
  throw new SicksyncError(
    ErrorCode.DAEMON_START,
    `the daemon did not start listening on ${paths.socket} within 15 s. Its log (${paths.log}) ends with:\n${getLogTail(paths)}`,
  );
}

export async function stopDaemon(paths: StatePaths): Promise<string> {
  const pid = readPid(paths);
  if (pid === null || !isProcessAlive(pid)) return 'no daemon is running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return `stopped the daemon (pid ${pid})`;
    await sleep(25);
  }
  process.kill(pid, 'SIGKILL');
  return `killed the daemon (pid ${pid}): it did not stop within 5 s of SIGTERM`;
}

export async function getDaemonStatus(paths: StatePaths): Promise<{ running: boolean; line: string }> {
  const pid = readPid(paths);
  const live = await isSocketLive(paths.socket);
  if (live) return { running: true, line: `daemon running (pid ${pid ?? 'unknown'}) on ${paths.socket}` };
  return { running: false, line: `no daemon is running (state folder ${paths.dir})` };
}
