/**
 * The live client is killed (SIGKILL) while it sends: the daemon drops what that client had half
 * written, goes away after its grace period, and the next `--once` brings the destination up to date
 * with nothing stale left there.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCliHarness } from '../helpers/cli-harness.js';
import { hashFile, killHard, listTempFiles, useFaults, waitForTempFileOf, writeLargeFile } from '../helpers/faults.js';
import { describeRun } from '../helpers/ssh-harness.js';
import { writeProjectFile } from '../e2e/fixtures.js';
import {
  countArrived,
  expectConverged,
  expectNoTempFiles,
  startSyncedProject,
  startWatching,
  waitForArrivals,
  writeBurst,
} from './steps.js';

useFaults();
const harness = useCliHarness();

const LARGE = 200 * 1024 * 1024;

/** `sicksync --once` in `root`: must succeed and leave the destination equal to the project. */
async function expectOnceConverges(root: string, dest: string): Promise<void> {
  const once = await harness.runCli(['--once'], { cwd: root, timeoutMs: 60_000 });
  expect(once.code, describeRun(once)).toBe(0);
  expect(once.stdout, describeRun(once)).toMatch(/^all destinations up to date$/m);
  await expectConverged(dest, root);
  await expectNoTempFiles(dest);
}

describe('kill -9 of the client', () => {
  it('during many small files: the next --once converges, no temporary file left, nothing left running', async () => {
    const dest = harness.path('dest');
    const { root, live } = await startSyncedProject(harness, dest, { 'README.md': 'before\n' });

    const burst = writeBurst(root, 0, 3000);
    await waitForArrivals(dest, 0);
    await killHard(live.pid);
    expect(await countArrived(dest, 0), 'the client was killed before the burst was through').toBeLessThan(3000);
    await burst;
    // The daemon lost its only client: it must end by itself.
    await harness.expectNoProcessesLeft();
    await expectNoTempFiles(dest);

    await expectOnceConverges(root, dest);
    await harness.expectNoProcessesLeft();
  });

  it('during a large file: the destination keeps the old file, the daemon drops the half one, the next --once converges', async () => {
    const root = harness.path('project');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    const old = await writeLargeFile(path.join(root, 'big.bin'), 4 * 1024 * 1024, harness.path('staging'));
    const live = await startWatching(harness, root);
    await expectConverged(dest, root, live);

    await writeLargeFile(path.join(root, 'big.bin'), LARGE, harness.path('staging'));
    await waitForTempFileOf(path.join(dest, 'big.bin'), 16 * 1024 * 1024);
    await killHard(live.pid);
    expect(await hashFile(path.join(dest, 'big.bin')), 'the old file, whole').toEqual(old);
    await harness.expectNoProcessesLeft();
    expect(await listTempFiles(dest), 'the daemon removed the half-written file when its client went away').toEqual([]);

    await expectOnceConverges(root, dest);
    await harness.expectNoProcessesLeft();
  }, 120_000);
});
