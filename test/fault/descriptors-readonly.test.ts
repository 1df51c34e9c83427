/**
 * Two more passing causes at a local destination, each while a live client has edits to send:
 * the daemon runs out of file descriptors (its RLIMIT_NOFILE lowered with prlimit), and the
 * destination turns read-only (a read-only bind mount over it). While the cause lasts the client
 * names each file and why; once it is gone the destination converges with no new edit, no
 * restart and no temporary file left.
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitFor } from '../helpers/cli-harness.js';
import { countDescriptors, probeMounts, setDescriptorLimit, useFaults } from '../helpers/faults.js';
import { expectConverged, expectNoTempFiles, expectStopsCleanly, startSyncedProject } from './steps.js';

const mounts = await probeMounts();
const faults = useFaults();
const harness = useCliHarness();

/** RLIMIT_NOFILE of `pid`, soft and hard, from /proc/<pid>/limits. */
async function getDescriptorLimits(pid: number): Promise<[number, number]> {
  const line = (await readFile(`/proc/${pid}/limits`, 'utf8')).split('\n').find((each) => each.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').split(/\s+/).slice(3, 5).map(Number);
  if (!soft || !hard) throw new Error(`no open-files limit for pid ${pid}: ${line ?? 'none'}`);
  return [soft, hard];
}

describe('the daemon out of file descriptors', () => {
  it('names the files it cannot write (EMFILE), then converges once descriptors are free again', async () => {
    const dest = harness.path('dest');
    const { root, live } = await startSyncedProject(harness, dest, { 'notes.txt': 'first version\n' });
    let daemons = await harness.listDaemons();
    await waitFor(async () => (daemons = await harness.listDaemons()).length === 1, 10_000);
    const pid = daemons[0]!.pid;

    // Not one descriptor to spare: the walk to the destination cannot even open its root. Only the
    // soft limit moves: raising a hard limit again needs CAP_SYS_RESOURCE.
    const [soft, hard] = await getDescriptorLimits(pid);
    await setDescriptorLimit(pid, await countDescriptors(pid), hard);
    const from = live.lines.length;
    await writeFile(path.join(root, 'notes.txt'), 'second version\n');
    await put(path.join(root, 'more/new.txt'), 'new\n');
    const reported = await live.waitForLine(/notes\.txt/, { fromLine: from, timeoutMs: 15_000 });
    expect(reported.line).toMatch(/no file descriptors left.*EMFILE.*retrying/);

    await setDescriptorLimit(pid, soft, hard);
    await expectConverged(dest, root, live);
    await live.waitForLine(/notes\.txt: synced now/, { fromLine: from });
    await expectNoTempFiles(dest);
    expect(
      (await harness.listDaemons()).map((daemon) => daemon.pid),
      'the same daemon, not a restarted one',
    ).toEqual([pid]);
    await expectStopsCleanly(live);
    await harness.expectNoProcessesLeft();
  });
});

describe.skipIf(!mounts.ok)(`a read-only destination${mounts.ok ? '' : ` (skipped: ${mounts.reason})`}`, () => {
  it('names the files it cannot write (EROFS), then converges once it is writable again', async () => {
    const dest = harness.path('dest');
    const { root, live } = await startSyncedProject(harness, dest, { 'notes.txt': 'first version\n' });
    const readOnly = await faults.makeReadOnly(dest);

    const from = live.lines.length;
    await writeFile(path.join(root, 'notes.txt'), 'second version\n');
    await put(path.join(root, 'fresh.txt'), 'new\n');
    for (const name of ['notes.txt', 'fresh.txt']) {
      const reported = await live.waitForLine(new RegExp(`${name.replace('.', '\\.')}.*read-only.*retrying`), {
        fromLine: from,
        timeoutMs: 15_000,
      });
      expect(reported.line).toMatch(/EROFS/);
    }

    await readOnly.makeWritable();
    await expectConverged(dest, root, live);
    await expectNoTempFiles(dest);
    await expectStopsCleanly(live);
    await harness.expectNoProcessesLeft();
  });
});
