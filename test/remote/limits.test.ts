/**
 * Defect 7 of the hardening issue: one client (or a few) cannot exhaust the daemon. Each test runs
 * the real, detached daemon from the built program, attacks it with raw protocol clients and reads
 * its descriptors and memory in /proc, while an honest client keeps syncing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DaemonConnection } from '../../src/client/endpoint/daemon-connection.js';
import { ErrorCode } from '../../src/shared/errors.js';
import { CONNECTION_LIMITS, DAEMON_LIMITS, MAX_FRAME_BYTES } from '../../src/remote/limits.js';
import { getOpFor, listTree, putFile, useDaemonHarness, waitUntil, type RawClient, folderSource } from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
const MiB = 1024 * 1024;

/** The detached daemon, as `sicksync remote start-daemon` leaves it: its pid and socket. */
async function startDetachedDaemon(): Promise<{ pid: number; socket: string; home: string }> {
  const { home, paths } = await harness.makeHome();
  const result = await harness.runCli(home, ['remote', 'start-daemon'], { SICKSYNC_DAEMON_GRACE_MS: '20000' });
  expect(result.code, result.stderr).toBe(0);
  const pid = Number((await readFile(paths.pid, 'utf8')).trim());
  return { pid, socket: paths.socket, home };
}

async function countDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function getRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

/** Samples `read` every few milliseconds until `until` resolves; returns the largest value seen. */
async function getPeak(read: () => Promise<number>, until: Promise<unknown>): Promise<number> {
  let peak = await read();
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    peak = Math.max(peak, await read());
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Math.max(peak, await read());
}

/** Sends `count` streamed writes that are never finished: each holds a temporary file open. */
function sendOpenWrites(client: RawClient, count: number, prefix: string): void {
  for (let i = 0; i < count; i++) {
    const op = client.allocateOp();
    const header = { t: 'write', op, path: `${prefix}-${i}.bin`, size: 2, mode: 0o644, mtimeNs: '0', last: false };
    void client.send(header, Buffer.from('a')).catch(() => undefined); // refused once the daemon closes
  }
}

async function openHonest(socket: string): Promise<{ connection: DaemonConnection; local: string; remote: string }> {
  const local = await harness.makeDir();
  const remote = join(await harness.makeDir(), 'dest');
  return { connection: await harness.connect(socket, remote), local, remote };
}

/** The honest client still syncs: a new file arrives whole. */
async function expectStillSyncs(honest: { connection: DaemonConnection; local: string; remote: string }, name: string): Promise<void> {
  await putFile(honest.local, name, `content of ${name}\n`);
  const result = await honest.connection.apply(await getOpFor(honest.local, name), folderSource(honest.local));
  expect(result).toMatchObject({ entry: { path: name } });
  expect(await readFile(join(honest.remote, name), 'utf8')).toBe(`content of ${name}\n`);
}

function isLimit(message: { t: string; error?: { code: string } }): boolean {
  return message.t === 'error' && message.error?.code === ErrorCode.LIMIT;
}

describe('defect 7: one client cannot exhaust the daemon', () => {
  it('defect 7: writes left open past the per-connection limit end that connection with SICKSYNC_E_LIMIT; descriptors stay bounded', async () => {
    const { pid, socket } = await startDetachedDaemon();
    const honest = await openHonest(socket);
    await expectStillSyncs(honest, 'before.txt');
    const before = await countDescriptors(pid);

    const attacker = await harness.openRaw(socket);
    const attackerRoot = await harness.makeDir();
    expect(await attacker.hello(attackerRoot)).toMatchObject({ t: 'welcome' });
    sendOpenWrites(attacker, 20 * CONNECTION_LIMITS.openWrites, 'open');
    const refused = attacker.waitFor(isLimit, 'a SICKSYNC_E_LIMIT error', 30_000);
    const peak = await getPeak(() => countDescriptors(pid), attacker.closed);

    const error = await refused;
    expect(error).toMatchObject({ error: { code: ErrorCode.LIMIT } });
    expect(JSON.stringify(error)).toContain(`limit is ${CONNECTION_LIMITS.openWrites}`);
    // Its open writes, its running operations and a few sockets; nowhere near 20 times the limit.
    expect(peak - before).toBeLessThanOrEqual(CONNECTION_LIMITS.openWrites + CONNECTION_LIMITS.runningOps + 16);
    expect(isStillRunning(pid)).toBe(true);
    await expectStillSyncs(honest, 'after.txt');
    // The refused connection's temporary files are gone with it, descriptors and all.
    await waitUntil(async () => (await countDescriptors(pid)) <= before + 2, 'the refused writes to be closed');
    expect(await listTree(attackerRoot)).toEqual([]);
  }, 60_000);

  it('defect 7: many connections together cannot open more than the daemon-wide number of writes', async () => {
    const { pid, socket } = await startDetachedDaemon();
    const honest = await openHonest(socket);
    await expectStillSyncs(honest, 'before.txt');
    const before = await countDescriptors(pid);

    // Each under the per-connection limit; together over the daemon's.
    const perClient = CONNECTION_LIMITS.openWrites - 6;
    const clients = Math.ceil((DAEMON_LIMITS.openWrites * 1.25) / perClient);
    const attackers: RawClient[] = [];
    for (let i = 0; i < clients; i++) {
      const attacker = await harness.openRaw(socket);
      expect(await attacker.hello(await harness.makeDir())).toMatchObject({ t: 'welcome' });
      attackers.push(attacker);
    }
    for (const [i, attacker] of attackers.entries()) sendOpenWrites(attacker, perClient, `c${i}`);
    const someRefused = Promise.any(attackers.map((attacker) => attacker.waitFor(isLimit, 'a SICKSYNC_E_LIMIT error', 30_000)));
    const peak = await getPeak(() => countDescriptors(pid), someRefused);
    const error = await someRefused;

    expect(JSON.stringify(error)).toContain(`limit is ${DAEMON_LIMITS.openWrites}`);
    expect(peak - before).toBeLessThanOrEqual(DAEMON_LIMITS.openWrites + clients + 64);
    expect(isStillRunning(pid)).toBe(true);
    for (const attacker of attackers) attacker.terminate();
    await waitUntil(async () => (await countDescriptors(pid)) <= before + 2, 'every attacker to be gone', 15_000);
    await expectStillSyncs(honest, 'after.txt');
  }, 90_000);

  it('defect 7: large frames sent faster than they are applied are held back by bytes, not by count', async () => {
    const { pid, socket } = await startDetachedDaemon();
    const honest = await openHonest(socket);
    await expectStillSyncs(honest, 'before.txt');

    // A tree whose scan does not fit in the socket's buffers: with the attacker not reading, the scan
    // (which every later frame waits for) stays unfinished, and everything sent after it piles up.
    const root = await harness.makeDir();
    await Promise.all(Array.from({ length: 6000 }, (_, i) => putFile(root, `tree/f-${String(i).padStart(5, '0')}-${'x'.repeat(60)}`, '')));
    // Zero masks: ws then sends the same buffer every time instead of a masked copy of each.
    const attacker = await harness.openRaw(socket, { generateMask: (mask: Buffer) => mask.fill(0) });
    expect(await attacker.hello(root)).toMatchObject({ t: 'welcome' });
    const op = attacker.allocateOp();
    await attacker.send({ t: 'write', op, path: 'big.bin', size: 10 ** 9, mode: 0o644, mtimeNs: '0', last: false }, Buffer.from('a'));
    attacker.ws.pause(); // stops reading: the scan's pages back up into the daemon
    await attacker.send({ t: 'scan', req: 1 });
    await waitUntil(async () => (await getRssBytes(pid)) > 0, 'the daemon to be measurable');
    const baseline = await getRssBytes(pid);

    const chunk = Buffer.alloc(MAX_FRAME_BYTES - 1024, 7);
    const frames = 60; // 60 frames of almost 8 MiB: 480 MiB if the daemon took them all
    for (let i = 0; i < frames; i++) void attacker.send({ t: 'chunk', op, last: false }, chunk).catch(() => undefined);

    // Settled once the daemon has stopped reading (or has read everything): nothing moves for a while.
    let last = -1;
    let stableSince = Date.now();
    let peak = baseline;
    await waitUntil(
      async () => {
        peak = Math.max(peak, await getRssBytes(pid));
        const left = attacker.ws.bufferedAmount;
        if (left !== last) {
          last = left;
          stableSince = Date.now();
        }
        return left === 0 || Date.now() - stableSince > 1500;
      },
      'the daemon to stop reading or finish reading',
      60_000,
    );
    peak = Math.max(peak, await getRssBytes(pid));

    // Still holding most of it back, and its memory grew by about its buffering limit, not 480 MiB.
    expect(attacker.ws.bufferedAmount).toBeGreaterThan(frames * chunk.length - 2 * CONNECTION_LIMITS.bufferedBytes - 64 * MiB);
    expect(peak - baseline).toBeLessThan(CONNECTION_LIMITS.bufferedBytes + 3 * MAX_FRAME_BYTES + 64 * MiB);
    expect(isStillRunning(pid)).toBe(true);
    await expectStillSyncs(honest, 'after.txt');
    attacker.terminate();
  }, 90_000);
});

describe('defect 7: frames larger than the protocol needs', () => {
  it('defect 7: a frame over the daemon maximum closes that connection with 1009 and nothing else', async () => {
    const { pid, socket } = await startDetachedDaemon();
    const honest = await openHonest(socket);
    const attacker = await harness.openRaw(socket, { generateMask: (mask: Buffer) => mask.fill(0) });
    expect(await attacker.hello(await harness.makeDir())).toMatchObject({ t: 'welcome' });
    void attacker.send({ t: 'chunk', op: 1, last: true }, Buffer.alloc(MAX_FRAME_BYTES + 1)).catch(() => undefined);
    expect((await attacker.closed).code).toBe(1009);
    expect(isStillRunning(pid)).toBe(true);
    await expectStillSyncs(honest, 'after.txt');
  }, 30_000);
});

function isStillRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
