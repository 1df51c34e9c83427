/**
 * The destination's disk fills up (a real 4 MB tmpfs, filled from outside) while a live client has
 * edits to send: the client names each file it cannot write and why, the files there stay whole,
 * and once space is freed the destination catches up with no new edit and no temporary file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, type CliProcess } from '../helpers/cli-harness.js';
import { fillFilesystem, hashFile, probeMounts, useFaults, type Content } from '../helpers/faults.js';
import { escapeRegExp } from '../helpers/ssh-harness.js';
import { writeProjectFile } from '../e2e/fixtures.js';
import { expectConverged, expectNoTempFiles, expectStopsCleanly, startWatching } from './steps.js';

const mounts = await probeMounts();
const faults = useFaults();
const harness = useCliHarness();

const NO_SPACE = /ENOSPC|no space left/i;

/** A project synced live to a destination on a 4 MB tmpfs, then the tmpfs filled and three edits made. */
async function fillWhileLive(): Promise<{
  root: string;
  dest: string;
  filler: string;
  live: CliProcess;
  from: number;
  before: Content | null;
}> {
  const disk = await faults.mountTmpfs(4 * 1024 * 1024);
  const dest = path.join(disk, 'dest');
  const filler = path.join(disk, 'filler'); // outside the destination, on the same filesystem
  const root = harness.path('project');
  await writeProjectFile(root, { destinations: [dest] });
  await put(path.join(root, 'notes.txt'), 'first version\n');
  await put(path.join(root, 'keep.txt'), 'unchanged\n');
  const live = await startWatching(harness, root);
  await expectConverged(dest, root, live);
  const before = await hashFile(path.join(dest, 'notes.txt'));

  await fillFilesystem(filler);
  const from = live.lines.length;
  await writeFile(path.join(root, 'notes.txt'), 'second version, longer than the first\n');
  await put(path.join(root, 'data/new.bin'), randomBytes(256 * 1024));
  await mkdir(path.join(root, 'data/empty'), { recursive: true });
  return { root, dest, filler, live, from, before };
}

describe.skipIf(!mounts.ok)(`disk full at a local destination${mounts.ok ? '' : ` (skipped: ${mounts.reason})`}`, () => {
  it('defect 12: names each file it cannot write and why, and keeps the old file whole', async () => {
    const { dest, live, from, before } = await fillWhileLive();
    for (const name of ['notes.txt', 'new.bin']) {
      const reported = await live.waitForLine(new RegExp(escapeRegExp(name)), { fromLine: from, timeoutMs: 10_000 });
      expect(reported.line, `the report for ${name} says why`).toMatch(NO_SPACE);
    }
    expect(await hashFile(path.join(dest, 'notes.txt')), 'the old notes.txt, whole, while the disk is full').toEqual(before);
    await expectNoTempFiles(dest);
    await expectStopsCleanly(live);
  });

  it('defect 6: converges once space is freed, with no new edit and no temporary file left', async () => {
    const { root, dest, filler, live, from } = await fillWhileLive();
    await live.waitForLine(NO_SPACE, { fromLine: from, timeoutMs: 10_000 });

    // The cause goes away; nothing in the project changes any more.
    await unlink(filler);
    await expectConverged(dest, root, live);
    await expectNoTempFiles(dest);

    await expectStopsCleanly(live);
    await harness.expectNoProcessesLeft();
  });
});
