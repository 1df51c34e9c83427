/**
 * `sicksync conflicts`, `resolve`, `history` and `restore`, as the README shows them: a conflict left
 * to the user (policy `manual`) changes nothing until resolved, live or between runs; every version
 * sicksync replaced can be listed and brought back, from whichever side keeps it.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, waitFor } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;

async function makeProject(config: Record<string, unknown>, files: Record<string, string>): Promise<string> {
  const root = harness.path('proj');
  await writeProjectFile(root, config);
  for (const [name, content] of Object.entries(files)) await put(path.join(root, name), content);
  return root;
}

const read = (file: string): Promise<string> => readFile(file, 'utf8');

describe('conflicts and resolve', () => {
  it('manual: both versions stay, the conflict is listed and --once exits 1 until it is resolved', async () => {
    const both = harness.path('both');
    const root = await makeProject(
      { destinations: [{ destinationLocation: both, mode: 'bidirectional' }], conflictPolicy: 'manual' },
      { 'plan.md': 'base\n', 'other.md': 'o\n' },
    );
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    await writeFile(path.join(root, 'plan.md'), 'mine\n');
    await writeFile(path.join(both, 'plan.md'), 'theirs\n');
    await writeFile(path.join(root, 'other.md'), 'other edit\n');

    const run = await harness.runCli(['--once'], { cwd: root });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toMatch(/plan\.md changed on both sides.*SICKSYNC_E_CONFLICT.*sicksync resolve plan\.md --keep/);
    expect(await read(path.join(root, 'plan.md'))).toBe('mine\n');
    expect(await read(path.join(both, 'plan.md'))).toBe('theirs\n');
    expect(await read(path.join(both, 'other.md')), 'a conflict blocks only its own path').toBe('other edit\n');

    const listed = await harness.runCli(['conflicts'], { cwd: root });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${both}: plan.md`);

    const unknown = await harness.runCli(['resolve', 'other.md', '--keep', 'local'], { cwd: root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no open conflict/);

    const resolved = await harness.runCli(['resolve', 'plan.md', '--keep', 'local'], { cwd: root });
    expect(resolved.code, resolved.stderr).toBe(0);
    const after = await harness.runCli(['--once'], { cwd: root });
    expect(after.code, after.stdout + after.stderr).toBe(0);
    expect(await read(path.join(both, 'plan.md'))).toBe('mine\n');
    // The version given up is in the destination's history.
    const kept = await harness.runCli(['history', 'plan.md'], { cwd: root });
    expect(kept.stdout).toMatch(new RegExp(`1 .* ${both.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect((await harness.runCli(['conflicts'], { cwd: root })).stdout).toMatch(/no open conflicts/);
  });

  it('resolve --keep both, given while sicksync runs, is applied by the running client', async () => {
    const both = harness.path('both');
    const root = await makeProject(
      { destinations: [{ destinationLocation: both, mode: 'bidirectional' }], conflictPolicy: 'manual' },
      { 'data.csv': 'a\n' },
    );
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    await writeFile(path.join(root, 'data.csv'), 'a,local\n');
    await writeFile(path.join(both, 'data.csv'), 'a,remote,longer\n');
    const cli = harness.startCli([], { cwd: root });
    await cli.waitForLine(/SICKSYNC_E_CONFLICT/, { timeoutMs: 15_000 });
    await cli.waitForLine(WATCHING, { timeoutMs: 15_000 });

    const resolved = await harness.runCli(['resolve', path.join(root, 'data.csv'), '--keep', 'both'], { cwd: harness.home });
    expect(resolved.code, resolved.stderr).toBe(0);
    // Both versions end up on both sides: the winner at data.csv, the other beside it.
    const versionsIn = async (folder: string): Promise<string[]> => {
      const names = (await readdir(folder)).filter((name) => name.startsWith('data'));
      return (await Promise.all(names.map((name) => read(path.join(folder, name)).catch(() => '')))).sort();
    };
    let contents: string[] = [];
    for (const side of [root, both]) {
      await waitFor(async () => (contents = await versionsIn(side)).length === 2, 10_000, {
        describe: () => `${side}: ${contents.join(', ')}\n${cli.output}`,
      });
    }
    expect(contents.sort()).toEqual(['a,local\n', 'a,remote,longer\n']);
    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});

describe('history and restore', () => {
  it('lists the versions a destination kept and brings one back into the project, keeping what was there', async () => {
    const dest = harness.path('dest');
    const root = await makeProject({ destinations: [dest] }, { 'report.txt': 'v1\n' });
    for (const next of ['v2\n', 'v3\n']) {
      expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
      await writeFile(path.join(root, 'report.txt'), next);
    }
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);

    const listed = await harness.runCli(['history', 'report.txt'], { cwd: root });
    expect(listed.code, listed.stderr).toBe(0);
    const rows = listed.stdout.split('\n').filter((line) => /^\s+\d+ /.test(line));
    expect(rows).toHaveLength(2); // v2 (newest) and v1, both replaced at the destination
    expect(rows[0]).toMatch(/^\s+1 .* 3 B .*dest/);

    const restored = await harness.runCli(['restore', 'report.txt', '--version', '2'], { cwd: root });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await read(path.join(root, 'report.txt'))).toBe('v1\n');
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    expect(await read(path.join(dest, 'report.txt'))).toBe('v1\n');
    // v3, replaced in the project by the restore, is in the project's history now.
    const again = await harness.runCli(['history', 'report.txt'], { cwd: root });
    expect(again.stdout).toMatch(/the project/);

    const missing = await harness.runCli(['restore', 'report.txt', '--version', '99'], { cwd: root });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('SICKSYNC_E_NO_VERSION');
  });
});
