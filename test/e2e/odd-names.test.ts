/**
 * Defects 10 and 11 of the hardening issue: no file is skipped without an error that names it.
 * A name that is not valid UTF-8 and a path longer than PATH_MAX are each reported (with exit 1
 * under --once) while the rest of the project is synced; live, a bad name created while watching
 * is reported too. So is a folder the client may not read.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();

/** `<root>/<prefix>\xff\xfe.txt`: a name Linux accepts and UTF-8 does not. */
function putBadName(root: string, prefix: string): void {
  const name = Buffer.concat([Buffer.from(`${root}/${prefix}`), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]);
  writeFileSync(name, 'bytes\n');
}

/**
 * A chain of folders deeper than PATH_MAX (4096): two chains of 11 × 201 bytes, each reachable by
 * path, the second moved under the first. Returns the first chain, and how to take it apart again
 * (rm -r cannot: it meets ENAMETOOLONG too).
 */
function putDeepFile(root: string, spare: string): { start: string; undo: () => void } {
  const chain = Array.from({ length: 11 }, (_, i) => `${String(i).padStart(2, '0')}${'d'.repeat(198)}`).join('/');
  mkdirSync(path.join(root, chain), { recursive: true });
  mkdirSync(path.join(spare, chain), { recursive: true });
  writeFileSync(path.join(spare, chain, 'file.txt'), 'deep\n');
  const top = chain.split('/')[0]!;
  renameSync(path.join(spare, top), path.join(root, chain, top));
  return { start: chain, undo: () => renameSync(path.join(root, chain, top), path.join(spare, top)) };
}

describe('defects 10 and 11: names the wire cannot carry, paths the system cannot reach', () => {
  it('--once names a non-UTF-8 name and an overlong path, syncs everything else, and exits 1', async () => {
    const root = harness.path('project');
    await writeProjectFile(root, { destinations: [harness.path('dest')] });
    await put(path.join(root, 'ok.txt'), 'fine\n');
    await put(path.join(root, 'sub/also-ok.txt'), 'fine too\n');
    putBadName(root, 'bad-');
    mkdirSync(path.join(root, 'sub', 'inner'));
    putBadName(path.join(root, 'sub', 'inner'), '');
    const deep = putDeepFile(root, harness.path('spare'));
    const dest = harness.path('dest');
    let result;
    try {
      result = await harness.runCli(['--once'], { cwd: root });
    } finally {
      deep.undo();
    }

    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /^error: not syncing "bad-\\xff\\xfe\.txt": its name is not valid UTF-8 .*\(SICKSYNC_E_NAME_ENCODING\)$/m,
    );
    expect(result.stderr).toMatch(/^error: not syncing "sub\/inner\/\\xff\\xfe\.txt": .*\(SICKSYNC_E_NAME_ENCODING\)$/m);
    expect(result.stderr).toMatch(/^error: not syncing "00d+.*": its path is longer than 4095 bytes \(SICKSYNC_E_PATH_TOO_LONG\)$/m);
    expect(result.stderr).not.toMatch(/unexpected error|ENAMETOOLONG/);
    expect(result.stdout).toMatch(/except for 3 paths named above/);
    expect(await readFile(path.join(dest, 'ok.txt'), 'utf8')).toBe('fine\n');
    expect(await readFile(path.join(dest, 'sub/also-ok.txt'), 'utf8')).toBe('fine too\n');
    expect((await lstat(path.join(dest, 'sub/inner'))).isDirectory()).toBe(true);
    // The deep chain is synced as far as it can be; the overlong tail is what was named.
    expect((await lstat(path.join(dest, deep.start))).isDirectory()).toBe(true);
    await harness.expectNoProcessesLeft();
  });

  it('live, names a non-UTF-8 name created while watching', async () => {
    const root = harness.path('project');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'ok.txt'), 'fine\n');
    const live = harness.startCli([], { cwd: root });
    await live.waitForLine(/watching for changes/);

    putBadName(root, 'late-');
    await live.waitForLine(/^error: not syncing "late-\\xff\\xfe\.txt": its name is not valid UTF-8/);
    expect((await live.stop()).code, live.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});
