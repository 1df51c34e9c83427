/**
 * The real detached daemon, started and stopped through the built CLI exactly as the client runs it
 * over SSH: `remote start-daemon | stop | status`, with HOME set to a temp home. Every daemon is found
 * afterwards through /proc by that HOME, so none can outlive its test.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { READY_PREFIX } from '../../src/shared/remote-contract.js';
import { isSocketLive } from '../../src/remote/socket-claim.js';
import { ErrorCode } from '../../src/shared/errors.js';
import { PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { VERSION } from '../../src/shared/version.js';
import {
  getCommandLine,
  isRunning,
  listProcessesWithHome,
  useDaemonHarness,
  waitUntil,
  type CliResult,
} from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
/** Long enough that no daemon leaves on its own during a test; cleanup stops them. */
const LONG_GRACE = { SICKSYNC_DAEMON_GRACE_MS: '20000' };

interface Ready {
  pid: number;
  socket: string;
  version: string;
  protocol: number;
}

/** The one line start-daemon prints, checked to be the only output. */
function getReady(result: CliResult): Ready {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]!.startsWith(READY_PREFIX)).toBe(true);
  return JSON.parse(lines[0]!.slice(READY_PREFIX.length)) as Ready;
}

async function startDaemon(home: string, env: Record<string, string> = LONG_GRACE): Promise<Ready> {
  return getReady(await harness.runCli(home, ['remote', 'start-daemon'], env));
}

async function waitForNoProcess(home: string, timeoutMs = 5000): Promise<void> {
  await waitUntil(async () => (await listProcessesWithHome(home)).length === 0, `no process runs with HOME=${home}`, timeoutMs);
}

describe('remote start-daemon', () => {
  it('starts one daemon when four starts run at the same moment, each printing one ready line', async () => {
    const { home, paths } = await harness.makeHome();

    const results = await Promise.all([1, 2, 3, 4].map(() => harness.runCli(home, ['remote', 'start-daemon'], LONG_GRACE)));

    const readies = results.map(getReady);
    const pid = readies[0]!.pid;
    expect(readies.map((ready) => ready.pid)).toEqual([pid, pid, pid, pid]);
    expect(readies[0]).toEqual({ pid, socket: paths.socket, version: VERSION, protocol: PROTOCOL_VERSION });
    expect(Number((await readFile(paths.pid, 'utf8')).trim())).toBe(pid);
    // The daemons that lost the race leave at once; only the winner stays.
    await waitUntil(async () => (await listProcessesWithHome(home)).join() === String(pid), 'only the daemon is left', 5000);
    expect(await getCommandLine(pid)).toEqual(expect.arrayContaining(['remote', 'daemon', '--detach']));
    const log = await readFile(paths.log, 'utf8');
    expect(log.match(/listening on/g)).toHaveLength(1);
    // It serves.
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });
  });

  it('keeps its state folder private', async () => {
    const { home, paths } = await harness.makeHome();
    await startDaemon(home);

    expect((await stat(paths.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.socket)).mode & 0o777).toBe(0o600);
  });

  it('reuses a running daemon instead of starting another', async () => {
    const { home } = await harness.makeHome();
    const first = await startDaemon(home);

    const second = await startDaemon(home);

    expect(second.pid).toBe(first.pid);
    expect(await listProcessesWithHome(home)).toEqual([first.pid]);
  });

  it('defect 13: refuses --listen (exit 1, naming the pid) when a daemon without a TCP listener already runs', async () => {
    const { home } = await harness.makeHome();
    const first = await startDaemon(home);

    const result = await harness.runCli(home, ['remote', 'start-daemon', '--listen', 'ws://127.0.0.1:47913'], LONG_GRACE);

    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).not.toContain(READY_PREFIX);
    expect(result.stderr).toContain(`a daemon is already running (pid ${first.pid}) and has no TCP listener`);
    expect(result.stderr).toContain('sicksync remote stop');
    expect(result.stderr).toContain(ErrorCode.DAEMON_START);
    expect(await listProcessesWithHome(home)).toEqual([first.pid]);
  });

  it('starts a new daemon over the stale socket of a killed one', async () => {
    const { home, paths } = await harness.makeHome();
    const killed = await startDaemon(home);
    process.kill(killed.pid, 'SIGKILL');
    // The leader turns zombie before its other threads are gone and the socket with them.
    await waitUntil(async () => !(await isRunning(killed.pid)) && !(await isSocketLive(paths.socket)), 'the killed daemon is gone');
    expect(existsSync(paths.socket)).toBe(true); // nobody removed it

    const ready = await startDaemon(home);

    expect(ready.pid).not.toBe(killed.pid);
    expect(await isRunning(ready.pid)).toBe(true);
    expect(await listProcessesWithHome(home)).toEqual([ready.pid]);
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });
  });

  it("resolves a ~ root against the daemon's HOME", async () => {
    const { home, paths } = await harness.makeHome();
    await startDaemon(home);
    const client = await harness.openRaw(paths.socket);

    expect(await client.hello('~/src/web')).toMatchObject({ t: 'welcome', root: join(home, 'src/web') });
    expect((await stat(join(home, 'src/web'))).isDirectory()).toBe(true);
  });
});

describe('the detached daemon process', () => {
  it('exits on its own a grace period after its last client, removing its socket and pid files', async () => {
    const { home, paths } = await harness.makeHome();
    const { pid } = await startDaemon(home, { SICKSYNC_DAEMON_GRACE_MS: '1000' });
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });
    await sleep(1500);
    expect(await isRunning(pid)).toBe(true); // a client keeps it alive past the grace period

    client.ws.close();
    await client.closed;

    await waitForNoProcess(home);
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.pid)).toBe(false);
  });

  it('exits when no client comes at all', async () => {
    const { home, paths } = await harness.makeHome();
    await startDaemon(home, { SICKSYNC_DAEMON_GRACE_MS: '300' });

    await waitForNoProcess(home);
    expect(existsSync(paths.socket)).toBe(false);
  });

  it('drops a client that never answers pings when SICKSYNC_HEARTBEAT_MS is small', async () => {
    const { home, paths } = await harness.makeHome();
    await startDaemon(home, { ...LONG_GRACE, SICKSYNC_HEARTBEAT_MS: '200' });
    const deaf = await harness.openRaw(paths.socket, { autoPong: false });
    const alive = await harness.openRaw(paths.socket);
    expect(await deaf.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });
    expect(await alive.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });

    const closed = await Promise.race([deaf.closed, sleep(3000).then(() => null)]);

    expect(closed, 'the deaf client is dropped within 3 s').not.toBeNull();
    expect(alive.isOpen).toBe(true);
  });
});

describe('remote stop and remote status', () => {
  it('report that no daemon runs, with exit codes 1 and 0', async () => {
    const { home, paths } = await harness.makeHome();

    const status = await harness.runCli(home, ['remote', 'status']);
    const stop = await harness.runCli(home, ['remote', 'stop']);

    expect(status).toMatchObject({ code: 1, stdout: `no daemon is running (state folder ${paths.dir})\n`, stderr: '' });
    expect(stop).toMatchObject({ code: 0, stdout: 'no daemon is running\n', stderr: '' });
  });

  it('report a running daemon, then stop it, closing its clients and removing its files (regression: a daemon stopped with clients lingered for its grace period)', async () => {
    const { home, paths } = await harness.makeHome();
    const { pid } = await startDaemon(home);
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(join(home, 'p'))).toMatchObject({ t: 'welcome' });

    const status = await harness.runCli(home, ['remote', 'status']);
    expect(status).toMatchObject({ code: 0, stdout: `daemon running (pid ${pid}) on ${paths.socket}\n`, stderr: '' });

    const stop = await harness.runCli(home, ['remote', 'stop']);
    expect(stop).toMatchObject({ code: 0, stdout: `stopped the daemon (pid ${pid})\n`, stderr: '' });
    expect((await client.closed).code).toBe(1001);
    await waitForNoProcess(home);
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.pid)).toBe(false);

    expect(await harness.runCli(home, ['remote', 'status'])).toMatchObject({ code: 1 });
  });

  it('say no daemon runs when the pid file names a dead process', async () => {
    const { home, paths } = await harness.makeHome();
    const { pid } = await startDaemon(home);
    process.kill(pid, 'SIGKILL');
    // Wait until the process is reaped, not just dead: a zombie still answers kill(pid, 0).
    await waitUntil(() => !existsSync(`/proc/${pid}`), 'the killed daemon is reaped', 10_000);
    expect(existsSync(paths.pid)).toBe(true);

    expect(await harness.runCli(home, ['remote', 'stop'])).toMatchObject({ code: 0, stdout: 'no daemon is running\n' });
    expect(await harness.runCli(home, ['remote', 'status'])).toMatchObject({
      code: 1,
      stdout: `no daemon is running (state folder ${paths.dir})\n`,
    });
  });

  it('refuses a remote command without a subcommand as bad usage (exit 2)', async () => {
    const { home } = await harness.makeHome();

    const result = await harness.runCli(home, ['remote']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('name a remote command');
    expect(result.stderr).toContain(ErrorCode.USAGE);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
