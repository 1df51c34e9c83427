/**
 * The local daemon is killed (SIGKILL: no chance to clean up) while a live client streams to it:
 * the client starts a new daemon, catches the destination up, and leaves no temporary file, no
 * half file and no process behind.
 */
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitFor, type CliHarness } from '../helpers/cli-harness.js';
import { FileVersions, hashFile, killHard, listTempFiles, useFaults, waitForTempFileOf, writeLargeFile } from '../helpers/faults.js';
import { formatProcesses } from '../helpers/ssh-harness.js';
import { writeProjectFile } from '../e2e/fixtures.js';
import {
  RECOVER_MS,
  checkRunning,
  countArrived,
  expectConverged,
  expectNoTempFiles,
  expectStopsCleanly,
  startSyncedProject,
  startWatching,
  waitForArrivals,
  writeBurst,
} from './steps.js';

useFaults();
const harness = useCliHarness();

const LARGE = 200 * 1024 * 1024;

/** The one daemon of this test's HOME. */
async function getOnlyDaemon(cli: CliHarness): Promise<number> {
  let daemons = await cli.listDaemons();
  await waitFor(async () => (daemons = await cli.listDaemons()).length === 1, 10_000, { describe: () => formatProcesses(daemons) });
  return daemons[0]!.pid;
}

describe('kill -9 of the local daemon', () => {
  it('during many small files: the client starts a new daemon and converges, no temporary file left', async () => {
    const dest = harness.path('dest');
    const { root, live } = await startSyncedProject(harness, dest, { 'README.md': 'before\n' });
    const killed = await getOnlyDaemon(harness);

    const burst = writeBurst(root, 0, 3000);
    await waitForArrivals(dest, 0);
    await killHard(killed);
    const arrivedBeforeKill = await countArrived(dest, 0);
    await burst;
    await writeBurst(root, 1, 200); // more while the client reconnects

    await expectConverged(dest, root, live);
    expect(arrivedBeforeKill, 'the daemon was killed before the burst was through').toBeLessThan(3000);
    const now = await getOnlyDaemon(harness);
    expect(now, 'a new daemon serves the destination').not.toBe(killed);
    await expectNoTempFiles(dest);

    await expectStopsCleanly(live);
    await harness.expectNoProcessesLeft();
  });

  // Defects 2 and 3: the client crashed with an unhandled `read ECONNRESET` when its connection
  // dropped during a stream, and the killed daemon's temporary file stayed forever.
  it('defects 2 and 3: during a large file, the destination holds the old or the whole new file, never half, and no temporary file stays', async () => {
    const root = harness.path('project');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'small.txt'), 'small\n');
    const old = await writeLargeFile(path.join(root, 'big.bin'), 4 * 1024 * 1024, harness.path('staging'));
    const live = await startWatching(harness, root);
    await expectConverged(dest, root, live);
    const killed = await getOnlyDaemon(harness);

    const versions = new FileVersions(path.join(dest, 'big.bin'));
    try {
      const fresh = await writeLargeFile(path.join(root, 'big.bin'), LARGE, harness.path('staging'));
      await waitForTempFileOf(path.join(dest, 'big.bin'), 16 * 1024 * 1024);
      await killHard(killed);
      expect(await hashFile(path.join(dest, 'big.bin')), 'right after the kill: the old file').toEqual(old);

      // Size first: hashing 200 MB on every poll would starve the machine.
      await waitFor(
        async () => {
          checkRunning(live);
          return (await stat(path.join(dest, 'big.bin')).catch(() => null))?.size === fresh.size;
        },
        RECOVER_MS,
        {
          intervalMs: 200,
          describe: async () =>
            `big.bin never got its new size at ${dest} (temporary files: ${(await listTempFiles(dest)).join(', ') || 'none'}); sicksync printed:\n${live.output}\ndaemon log:\n${await harness.readDaemonLog()}`,
        },
      );
      await expectConverged(dest, root, live);
      await expectNoTempFiles(dest);
      expect(await getOnlyDaemon(harness)).not.toBe(killed);

      const seen = await versions.stop();
      for (const version of seen) expect([old, fresh], 'every version a reader saw was whole').toContainEqual(version);
    } finally {
      await versions.stop();
    }

    await expectStopsCleanly(live);
    await harness.expectNoProcessesLeft();
  }, 120_000);
});
