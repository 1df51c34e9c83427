/**
 * Defect 8 of the hardening issue: destinations reached through symlinks. Their folders are
 * created through a symlinked parent, and "inside the project" is decided by real paths, so an
 * alias of the project cannot make a destination that nests the project into itself.
 */
import { lstat, mkdir, readdir, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFolders, put, useCliHarness } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();

async function makeProject(destinations: string[]): Promise<string> {
  const root = harness.path('proj');
  await writeProjectFile(root, { destinations });
  await put(path.join(root, 'a.txt'), 'a\n');
  await put(path.join(root, 'sub/b.txt'), 'b\n');
  return root;
}

describe('defect 8: destinations reached through symlinks', () => {
  it('creates a destination whose parent is a symlink to a folder, the missing folders under it too', async () => {
    await mkdir(harness.path('volume'));
    await symlink(harness.path('volume'), harness.path('mnt'));
    const dest = harness.path('mnt', 'not', 'yet', 'dest');
    const root = await makeProject([dest]);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await diffFolders(harness.path('volume', 'not', 'yet', 'dest'), root)).toEqual([]);
  });

  it('names a symlinked parent that leads nowhere instead of saying EEXIST', async () => {
    await symlink(harness.path('missing-volume'), harness.path('mnt'));
    const dest = harness.path('mnt', 'dest');
    const root = await makeProject([dest]);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mnt is a symlink to .*missing-volume, which does not exist/);
    expect(result.stderr).not.toMatch(/EEXIST/);
    await harness.expectNoProcessesLeft();
  });

  it.each([
    ['inside the project through an alias of it', (alias: string) => path.join(alias, 'copy'), /is inside the project folder/],
    ['the project itself through an alias', (alias: string) => alias, /is the project folder itself/],
    [
      'above the project through an alias of its parent',
      (_alias: string, parentAlias: string) => parentAlias,
      /contains the project folder/,
    ],
  ])('refuses a destination %s, and creates nothing', async (_what, getDest, message) => {
    const alias = harness.path('alias');
    const parentAlias = harness.path('parent-alias');
    await symlink(harness.path('proj'), alias);
    await symlink(harness.path(), parentAlias);
    const root = await makeProject([getDest(alias, parentAlias)]);
    const before = await readdir(root);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/really /);
    expect(await readdir(root)).toEqual(before);
    await expect(lstat(path.join(root, 'copy'))).rejects.toThrow(/ENOENT/);
  });
});
