/**
 * One project, two SSH hosts and a local folder: `--once` makes all three identical to the project,
 * then live sync carries every kind of change to all three, and Ctrl-C leaves nothing running on
 * the client or on either host.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFolders, put } from '../../helpers/cli-harness.js';
import { describeRun, diffSynced, escapeRegExp, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { excludeRich, makeRichProject, writeProjectFile } from '../fixtures.js';

const ssh = useSshHarness({ first: 2, last: 4 });

describe('sync to two SSH hosts and a local folder', () => {
  it('converges all three with --once, then follows live edits, creates, deletes and renames until Ctrl-C', async () => {
    const cli = ssh.cli;
    const hostA = await ssh.addHost({ alias: 'hostA' });
    const hostB = await ssh.addHost({ alias: 'hostB' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await makeRichProject(root, ['hostA:~/dest', 'hostB:~/nested/dest', local]);
    const dests = [hostA.path('dest'), hostB.path('nested/dest'), local];

    const once = await cli.runCli(['--once'], { cwd: root });
    expect(once.code, describeRun(once)).toBe(0);
    expect(once.stderr, describeRun(once)).toBe('');
    expect(once.stdout).toMatch(/^all destinations up to date$/m);
    for (const id of ['hostA:~/dest', 'hostB:~/nested/dest', local]) expect(once.stdout).toMatch(new RegExp(`^${escapeRegExp(id)}: `, 'm'));
    for (const dest of dests) expect(await diffSynced(dest, root, { exclude: excludeRich }), dest).toEqual([]);
    await ssh.expectNoProcessesLeft();

    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });

      // Edits of content, and of content with mode; a new file in a new folder; deletions; renames of a file and a folder.
      await writeFile(path.join(root, 'src/index.ts'), 'export const answer = 43;\n');
      // chmod first: the write after it moves the mtime, so the watcher sees both (a chmod alone is
      // the subject of its own test below).
      await chmod(path.join(root, 'bin/private-tool'), 0o755);
      await writeFile(path.join(root, 'bin/private-tool'), '#!/bin/sh\necho now public\n');
      await put(path.join(root, 'docs/guide/intro.md'), '# Intro\n');
      await put(path.join(root, 'docs/tool.sh'), '#!/bin/sh\necho tool\n', 0o755);
      await utimes(path.join(root, 'docs/tool.sh'), 1_200_000_000.5, 1_200_000_000.5);
      await unlink(path.join(root, 'data/zero-length'));
      await rm(path.join(root, 'nested'), { recursive: true });
      await rename(path.join(root, 'src/lib/util.ts'), path.join(root, 'src/lib/helpers.ts'));
      await rename(path.join(root, 'private'), path.join(root, 'secret-stuff'));
      await mkdir(path.join(root, 'fresh-empty'));
      for (const dest of dests) await waitForSynced(dest, root, { exclude: excludeRich });

      // A second round on top, so changes made after the first live batch still arrive.
      await writeFile(path.join(root, 'docs/guide/intro.md'), '# Intro, edited\n');
      await rename(path.join(root, 'docs/guide'), path.join(root, 'docs/manual'));
      for (const dest of dests) await waitForSynced(dest, root, { exclude: excludeRich });
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    expect(live.stderr, live.output).toBe('');
    await ssh.expectNoProcessesLeft();
  });

  it('carries a chmod-only change (an exec bit) live to SSH and local destinations', async () => {
    const cli = ssh.cli;
    const hostA = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await writeProjectFile(root, { destinations: ['hostA:~/dest', local] });
    await put(path.join(root, 'tool.sh'), '#!/bin/sh\necho tool\n', 0o644);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      // Neither content nor mtime changes: only the inode's mode (and ctime).
      await chmod(path.join(root, 'tool.sh'), 0o755);
      for (const dest of [hostA.path('dest'), local]) await waitForSynced(dest, root, {}, 10_000);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('keeps an mtime within a microsecond when its sub-microsecond part makes utimes() round down (libuv truncates to µs)', async () => {
    const cli = ssh.cli;
    const hostA = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    await writeProjectFile(root, { destinations: ['hostA:~/dest'] });
    await put(path.join(root, 'folder/file.txt'), 'x\n');
    // GNU touch sets nanoseconds exactly (utimensat). As a double of seconds this time is just below
    // …123457.037 µs, and libuv then drops the sub-microsecond part: a naive copy lands at …123456 µs.
    execFileSync('touch', ['-h', '-d', '@1600000000.123457037', path.join(root, 'folder/file.txt'), path.join(root, 'folder')]);

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(0);
    // diffFolders allows < 1 µs, as the client's own hasSameMtime does.
    expect(await diffFolders(hostA.path('dest'), root)).toEqual([]);
    await ssh.expectNoProcessesLeft();
  });
});
