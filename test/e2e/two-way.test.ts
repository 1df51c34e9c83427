/**
 * Both ways, with local destinations (the same daemon and protocol as SSH hosts, without SSH; the
 * SSH tier repeats the core of it in test/e2e/ssh/two-way.test.ts): remote edits come back and go on
 * to the other destinations, conflicts keep both versions, pull rules bring results back, changes
 * made while stopped are found, and every version sicksync replaced is in a history.
 */
import { writeFileSync } from 'node:fs';
import { readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, readFileContents, useCliHarness, waitFor, waitForSameTree, type CliProcess } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;
const CONVERGE_MS = 20_000;
const CONFLICT_COPY = /\.sicksync-conflict-\d{8}-\d{6}-[A-Za-z0-9_-]+/;

async function startWatching(root: string): Promise<CliProcess> {
  const cli = harness.startCli([], { cwd: root });
  await cli.waitForLine(WATCHING, { timeoutMs: 15_000 });
  return cli;
}

async function expectSame(cli: CliProcess | null, a: string, b: string): Promise<void> {
  try {
    await waitForSameTree(a, b, {}, CONVERGE_MS);
  } catch (error) {
    throw new Error(`${(error as Error).message}${cli ? `\nsicksync printed:\n${cli.output}` : ''}`);
  }
}

async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8');
}

/** Every version kept in the history of a side. */
function readHistory(root: string): Promise<string[]> {
  return readFileContents(path.join(root, '.sicksync/history'));
}

async function makeProject(config: Record<string, unknown>, files: Record<string, string>): Promise<string> {
  const root = harness.path('proj');
  await writeProjectFile(root, config);
  for (const [name, content] of Object.entries(files)) await put(path.join(root, name), content);
  return root;
}

describe('two-way sync (local destinations)', () => {
  it('brings an edit made at a bidirectional destination back, and on to a push destination, without echo', async () => {
    const both = harness.path('both');
    const mirror = harness.path('mirror');
    const root = await makeProject(
      {
        destinations: [
          { destinationLocation: both, mode: 'bidirectional' },
          { destinationLocation: mirror, mode: 'push' },
        ],
      },
      { 'src/app.ts': 'v1\n', 'README.md': 'readme\n' },
    );
    const cli = await startWatching(root);
    await expectSame(cli, both, root);
    await expectSame(cli, mirror, root);

    await writeFile(path.join(both, 'src/app.ts'), 'edited on the host\n');
    await put(path.join(both, 'gen/out.json'), '{"made":"there"}\n');
    await rm(path.join(both, 'README.md'));
    await expectSame(cli, root, both);
    await expectSame(cli, mirror, root);
    expect(await readText(path.join(root, 'src/app.ts'))).toBe('edited on the host\n');
    // What came back replaced the project's version, which is kept in the project's history.
    expect(await readHistory(root)).toEqual(expect.arrayContaining(['v1\n', 'readme\n']));

    // No echo: once the edits stop, nothing more is applied anywhere.
    await sleep(500);
    const lines = cli.lines.length;
    await sleep(2000);
    expect(cli.lines.slice(lines), 'nothing is applied after the edits stop').toEqual([]);

    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('an edit of one file on both sides at the same moment keeps both versions, and every side ends the same', async () => {
    const both = harness.path('both');
    const root = await makeProject({ destinations: [{ destinationLocation: both, mode: 'bidirectional' }] }, { 'notes.txt': 'base\n' });
    const cli = await startWatching(root);
    await expectSame(cli, both, root);

    await Promise.all([writeFile(path.join(root, 'notes.txt'), 'mine\n'), writeFile(path.join(both, 'notes.txt'), 'theirs, longer\n')]);
    await expectSame(cli, both, root);
    const names = await readdir(root);
    const copies = names.filter((name) => CONFLICT_COPY.test(name));
    const contents = [
      await readText(path.join(root, 'notes.txt')),
      ...(await Promise.all(copies.map((name) => readText(path.join(root, name))))),
    ];
    // Either both edits were seen as one conflict (a copy), or one after the other (the first in a history).
    const kept = [...contents, ...(await readHistory(root)), ...(await readHistory(both))];
    expect(kept).toEqual(expect.arrayContaining(['mine\n', 'theirs, longer\n']));

    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('three sides writing the same files at once (two bidirectional destinations): all end the same, no version lost', async () => {
    const a = harness.path('a');
    const b = harness.path('b');
    const names = Array.from({ length: 10 }, (_, i) => `f${i}.txt`);
    const root = await makeProject(
      {
        destinations: [
          { destinationLocation: a, mode: 'bidirectional' },
          { destinationLocation: b, mode: 'bidirectional' },
        ],
      },
      Object.fromEntries(names.map((name) => [name, `start ${name}\n`])),
    );
    const cli = await startWatching(root);
    await expectSame(cli, a, root);
    await expectSame(cli, b, root);
    const written: string[] = [];
    const sides: [string, string][] = [
      ['l', root],
      ['a', a],
      ['b', b],
    ];
    for (let round = 0; round < 8; round += 1) {
      // Each side names its versions with one letter, so versions of one file written at the same
      // moment often have the same size (and, in one kernel tick, the same mtime).
      // Written back to back, synchronously: the three sides' versions land in one kernel tick.
      sides.forEach(([side, folder], s) => {
        names.forEach((name, i) => {
          // Both destinations write the same files in a round, the project others.
          if ((i + round + (s === 0 ? 2 : 1)) % 3 !== 0) return;
          const text = `${side} r${round} ${name} ${'y'.repeat((i * 7 + round) % 5)}\n`;
          written.push(text);
          writeFileSync(path.join(folder, name), text);
        });
      });
      await sleep(250);
    }
    await expectSame(cli, a, root);
    await expectSame(cli, b, root);
    const kept = [...(await readFileContents(root)), ...(await readFileContents(a)), ...(await readFileContents(b))];
    expect(
      written.filter((text) => !kept.includes(text)),
      `versions lost; sicksync printed:\n${cli.output}`,
    ).toEqual([]);
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('a file deleted on one side and edited on the other keeps the edit, both ways', async () => {
    const both = harness.path('both');
    const root = await makeProject(
      { destinations: [{ destinationLocation: both, mode: 'bidirectional' }] },
      { 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n', 'd.txt': 'd\n' },
    );
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);

    await unlink(path.join(root, 'a.txt'));
    await writeFile(path.join(both, 'a.txt'), 'a edited there\n');
    await writeFile(path.join(root, 'b.txt'), 'b edited here\n');
    await unlink(path.join(both, 'b.txt'));
    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await readText(path.join(root, 'a.txt'))).toBe('a edited there\n');
    expect(await readText(path.join(both, 'b.txt'))).toBe('b edited here\n');
    await expectSame(null, both, root);
  });

  it('finds edits and deletions made on either side while stopped; a deleted file is not brought back', async () => {
    const both = harness.path('both');
    const root = await makeProject(
      { destinations: [{ destinationLocation: both, mode: 'bidirectional' }] },
      { 'here.txt': '1\n', 'there.txt': '1\n', 'gone-here.txt': 'x\n', 'gone-there.txt': 'x\n', 'keep.txt': 'k\n' },
    );
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);

    await writeFile(path.join(root, 'here.txt'), '2 here\n');
    await writeFile(path.join(both, 'there.txt'), '2 there\n');
    await unlink(path.join(root, 'gone-here.txt'));
    await unlink(path.join(both, 'gone-there.txt'));
    await put(path.join(both, 'new-there/file.txt'), 'new\n');
    const cli = await startWatching(root);
    await expectSame(cli, both, root);
    expect(await readText(path.join(both, 'here.txt'))).toBe('2 here\n');
    expect(await readText(path.join(root, 'there.txt'))).toBe('2 there\n');
    expect(await readText(path.join(root, 'new-there/file.txt'))).toBe('new\n');
    for (const gone of ['gone-here.txt', 'gone-there.txt']) {
      await expect(readText(path.join(root, gone))).rejects.toThrow(/ENOENT/);
      await expect(readText(path.join(both, gone))).rejects.toThrow(/ENOENT/);
    }
    // The deleted files are in the history of the side that deleted them for the other.
    expect(await readHistory(both)).toContain('x\n');
    expect(await readHistory(root)).toContain('x\n');
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
  });

  it('a pull rule brings results back and never pushes local edits to them', async () => {
    const host = harness.path('host');
    const root = await makeProject(
      { destinations: [host], rules: [{ pattern: 'results/**', mode: 'pull' }] },
      { 'train.py': 'print(1)\n', 'results/old.csv': 'local only\n' },
    );
    const cli = await startWatching(root);
    await waitFor(async () => (await readText(path.join(host, 'train.py')).catch(() => '')) === 'print(1)\n', CONVERGE_MS);

    await put(path.join(host, 'results/run-1/metrics.csv'), 'loss,0.1\n');
    await waitFor(
      async () => (await readText(path.join(root, 'results/run-1/metrics.csv')).catch(() => '')) === 'loss,0.1\n',
      CONVERGE_MS,
      {
        describe: () => cli.output,
      },
    );
    // A local edit under the rule is not pushed; the rest of the project still is.
    await writeFile(path.join(root, 'results/run-1/metrics.csv'), 'edited locally\n');
    await writeFile(path.join(root, 'train.py'), 'print(2)\n');
    await waitFor(async () => (await readText(path.join(host, 'train.py'))) === 'print(2)\n', CONVERGE_MS);
    await sleep(500);
    expect(await readText(path.join(host, 'results/run-1/metrics.csv'))).toBe('loss,0.1\n');
    await expect(readText(path.join(host, 'results/old.csv')), 'a local file under a pull rule stays local').rejects.toThrow(/ENOENT/);
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('1,000 files rewritten at the destination at once (a branch switch there) all come back', async () => {
    const both = harness.path('both');
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i += 1) files[`src/m${i % 20}/f${i}.ts`] = `before ${i}\n`;
    const root = await makeProject({ destinations: [{ destinationLocation: both, mode: 'bidirectional' }] }, files);
    const cli = await startWatching(root);
    await expectSame(cli, both, root);

    await Promise.all(Object.keys(files).map((name, i) => writeFile(path.join(both, name), `after ${i} on the branch\n`)));
    await expectSame(cli, root, both);
    expect(await readText(path.join(root, 'src/m7/f7.ts'))).toBe('after 7 on the branch\n');
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('the delete guard holds both ways, live: a tool wiping most of a destination pauses it and deletes nothing here', async () => {
    const both = harness.path('both');
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i += 1) files[`gen/f${i}.txt`] = `${i}\n`;
    const root = await makeProject({ destinations: [{ destinationLocation: both, mode: 'bidirectional' }], deleteGuard: 0.3 }, files);
    const cli = await startWatching(root);
    await expectSame(cli, both, root);

    await rm(path.join(both, 'gen'), { recursive: true });
    await cli.waitForLine(/SICKSYNC_E_DELETE_GUARD/, { timeoutMs: 15_000 });
    expect(cli.output).toMatch(/would delete 4\d of 4\d entries .* in the project folder .*paused.*--force/s);
    expect((await readdir(path.join(root, 'gen'))).length, 'nothing deleted in the project').toBe(40);
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('a folder moved at the destination is moved in the project too, without its content travelling again', async () => {
    const both = harness.path('both');
    const root = await makeProject(
      { destinations: [{ destinationLocation: both, mode: 'bidirectional' }] },
      { 'big/data.bin': 'x'.repeat(3_000_000) },
    );
    const cli = await startWatching(root);
    await expectSame(cli, both, root);
    const before = cli.lines.length;
    await rename(path.join(both, 'big'), path.join(both, 'moved'));
    await expectSame(cli, root, both);
    expect(await readText(path.join(root, 'moved/data.bin'))).toHaveLength(3_000_000);
    expect(cli.lines.slice(before).join('\n'), 'nothing received').not.toMatch(/received/);
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
  });

  it('a push overwrite keeps the version it replaced at the destination in its history', async () => {
    const dest = harness.path('dest');
    const root = await makeProject({ destinations: [dest] }, { 'a.txt': 'first\n' });
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    await writeFile(path.join(root, 'a.txt'), 'second\n');
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    expect(await readText(path.join(dest, 'a.txt'))).toBe('second\n');
    expect(await readHistory(dest)).toEqual(['first\n']);
  });
});
