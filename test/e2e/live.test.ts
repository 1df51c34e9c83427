/**
 * Live mode: `sicksync` with no flag brings the destinations up to date, says it is watching, then
 * follows every change until Ctrl-C (SIGINT), after which nothing of it may remain.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, lstat, mkdir, open, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitForSameTree, type CliProcess } from '../helpers/cli-harness.js';
import { excludeRich, makeRichProject, writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;
const CONVERGE_MS = 20_000;

async function startWatching(root: string): Promise<CliProcess> {
  const cli = harness.startCli([], { cwd: root });
  await cli.waitForLine(WATCHING, { timeoutMs: 15_000 });
  return cli;
}

/** Polls until every destination equals the project; on timeout says what differs and what sicksync printed. */
async function expectConverged(cli: CliProcess, root: string, destinations: string[], exclude = excludeRich): Promise<void> {
  try {
    await Promise.all(destinations.map((dest) => waitForSameTree(dest, root, { exclude }, CONVERGE_MS)));
  } catch (error) {
    throw new Error(`${(error as Error).message}\nsicksync printed:\n${cli.output}`);
  }
}

async function expectStops(cli: CliProcess): Promise<void> {
  const result = await cli.stop();
  expect(result.code, cli.output).toBe(0);
  expect(result.stderr, 'no warnings or errors while following changes').toBe('');
  await harness.expectNoProcessesLeft();
}

describe('sicksync (live)', () => {
  it('follows creations, edits, mode changes, deletions and renames of files and folders', async () => {
    const root = harness.path('rich');
    const d1 = harness.path('dest-1');
    const d2 = harness.path('dest-2');
    await makeRichProject(root, [d1, d2]);
    const cli = await startWatching(root);
    expect(
      cli.lines.filter((line) => WATCHING.test(line)),
      'printed once',
    ).toHaveLength(1);
    await expectConverged(cli, root, [d1, d2]);

    // New things of every kind.
    await put(path.join(root, 'data/big.bin'), randomBytes(3 * 1024 * 1024));
    await put(path.join(root, 'tools/go.sh'), '#!/bin/sh\necho go\n');
    await chmod(path.join(root, 'tools/go.sh'), 0o755);
    await mkdir(path.join(root, 'fresh-empty'));
    await mkdir(path.join(root, 'deep/new/empty/folders'), { recursive: true });
    await put(path.join(root, 'deep/new/file.txt'), 'deep\n');
    await expectConverged(cli, root, [d1, d2]);

    // Changes to what is already there.
    await appendFile(path.join(root, 'README.md'), '\nMore.\n');
    await chmod(path.join(root, 'src/index.ts'), 0o755); // mode only
    await writeFile(path.join(root, 'data/big.bin'), randomBytes(2 * 1024 * 1024)); // binary rewrite
    await unlink(path.join(root, 'data/zero-length'));
    await rm(path.join(root, 'nested'), { recursive: true });
    await unlink(path.join(root, 'link-to-folder'));
    await mkdir(path.join(root, 'moved-in'));
    await rename(path.join(root, 'bin/private-tool'), path.join(root, 'moved-in/private-tool')); // into a new folder
    await rename(path.join(root, 'src/lib'), path.join(root, 'src/library')); // a folder, with its link
    await rename(path.join(root, 'fresh-empty'), path.join(root, 'renamed-empty'));
    await expectConverged(cli, root, [d1, d2]);
    for (const dest of [d1, d2]) {
      expect((await lstat(path.join(dest, 'tools/go.sh'))).mode & 0o111, 'executable bits').toBe(0o111);
    }

    await expectStops(cli);
  });

  it('follows hundreds of small files created, then some deleted and renamed', async () => {
    const root = harness.path('rich');
    const d1 = harness.path('dest-1');
    const d2 = harness.path('dest-2');
    await makeRichProject(root, [d1, d2]);
    const cli = await startWatching(root);

    const file = (dir: number, n: number): string => path.join(root, `many/dir-${dir}/file-${n}.txt`);
    for (let dir = 0; dir < 10; dir += 1) {
      await mkdir(path.join(root, `many/dir-${dir}`), { recursive: true });
      await Promise.all(Array.from({ length: 30 }, (_, n) => writeFile(file(dir, n), `dir ${dir} file ${n}\n`)));
    }
    await expectConverged(cli, root, [d1, d2]);

    for (let dir = 0; dir < 10; dir += 1) {
      for (let n = 0; n < 5; n += 1) await unlink(file(dir, n));
      for (let n = 5; n < 8; n += 1) await rename(file(dir, n), file(dir, n + 100)); // in place
      await rename(file(dir, 8), file((dir + 1) % 10, 200 + dir)); // to another folder
    }
    await rename(path.join(root, 'many/dir-9'), path.join(root, 'many/dir-nine'));
    await rm(path.join(root, 'many/dir-0'), { recursive: true });
    await expectConverged(cli, root, [d1, d2]);

    await expectStops(cli);
  });

  it('never sends excluded files created while watching', async () => {
    const root = harness.path('rich');
    const dest = harness.path('dest');
    await makeRichProject(root, [dest]);
    const cli = await startWatching(root);

    await put(path.join(root, 'live.log'), 'log\n');
    await put(path.join(root, 'src/deeper/trace.log'), 'trace\n');
    await put(path.join(root, 'node_modules/late/index.js'), 'late\n');
    await put(path.join(root, 'src/node_modules/late/index.js'), 'late\n');
    await put(path.join(root, 'build/late.js'), 'late\n');
    await writeFile(path.join(root, 'secret.env'), 'TOKEN=changed\n');
    await rename(path.join(root, 'src/index.ts'), path.join(root, 'src/index.log')); // renamed into an exclude
    await put(path.join(root, 'marker.txt'), 'after the excluded ones\n');
    // The destination equals the project minus its excluded paths: none of them may be there.
    await expectConverged(cli, root, [dest]);
    for (const excluded of [
      'live.log',
      'src/deeper/trace.log',
      'node_modules',
      'src/node_modules',
      'build',
      'secret.env',
      'src/index.log',
    ]) {
      await expect(lstat(path.join(dest, excluded)), excluded).rejects.toThrow(/ENOENT/);
    }

    await expectStops(cli);
  });

  // Pins a bug: with a file rewritten in pieces while sicksync streamed it, the destination
  // kept the folder times a streamed write read when it started (its chunk and abort frames carried
  // no path, so the folder's own times could be set before them), and once kept the file's first
  // 512 KB piece instead of its final content.
  it('regression: a folder keeps its new mtime when a big file in it is rewritten as other entries change', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'data/big.bin'), randomBytes(3 * 1024 * 1024));
    await put(path.join(root, 'data/gone.txt'), 'gone\n');
    const cli = await startWatching(root);

    // Written in pieces, so the watcher sees the file while it grows.
    const handle = await open(path.join(root, 'data/big.bin'), 'w');
    await unlink(path.join(root, 'data/gone.txt'));
    for (let i = 0; i < 8; i += 1) {
      await handle.write(randomBytes(512 * 1024));
      await sleep(20);
    }
    await handle.close();
    await expectConverged(cli, root, [dest], () => false);

    await expectStops(cli);
  });

  it('stops on SIGTERM as on Ctrl-C', async () => {
    const root = harness.path('rich');
    const dest = harness.path('dest');
    await makeRichProject(root, [dest]);
    const cli = await startWatching(root);
    cli.kill('SIGTERM');
    const result = await cli.waitForExit();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});
