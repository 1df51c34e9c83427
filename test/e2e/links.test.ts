/**
 * Defect 5 of the hardening issue, end to end: a symlink is synced only when it cannot lead out of
 * the root, judged by what it resolves to on disk and not by its joined text; one that really
 * stays inside but is spelled through the project's own name is sent in its plain form.
 */
import { lstat, mkdir, readlink, realpath, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const harness = useCliHarness();

describe('defect 5: symlinks that look inside but lead out, and the reverse', () => {
  it('names and skips `up -> dot/..`; syncs `dirlink -> ../proj/dir` as `dirlink -> dir`', async () => {
    const root = harness.path('proj');
    const dest = harness.path('elsewhere', 'dest'); // another name: `../proj/dir` would lead out of it
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'dir/file.txt'), 'inside\n');
    await symlink('.', path.join(root, 'dot'));
    await symlink('dot/..', path.join(root, 'up')); // really the project's parent
    await symlink('../proj/dir', path.join(root, 'dirlink')); // really proj/dir
    await mkdir(path.join(root, 'deep/er'), { recursive: true });
    await symlink('../../dir/file.txt', path.join(root, 'deep/er/file-link'));

    const result = await harness.runCli(['--once'], { cwd: root });

    expect(result.stderr, result.stdout).toMatch(/not syncing up: it is a symlink to dot\/\.\., which leads outside the project/);
    await expect(lstat(path.join(dest, 'up'))).rejects.toThrow(/ENOENT/);
    expect(await readlink(path.join(dest, 'dot'))).toBe('.');
    expect(await readlink(path.join(dest, 'dirlink'))).toBe('dir');
    expect(await realpath(path.join(dest, 'dirlink'))).toBe(await realpath(path.join(dest, 'dir')));
    expect(await readlink(path.join(dest, 'deep/er/file-link'))).toBe('../../dir/file.txt');

    // Stable: the plain form is what the project is compared with, so nothing is sent again.
    const again = await harness.runCli(['--once'], { cwd: root });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/up to date/);
    await harness.expectNoProcessesLeft();
  });
});
