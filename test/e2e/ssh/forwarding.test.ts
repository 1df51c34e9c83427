/**
 * Defect 14 of the hardening issue: hosts whose sshd refuses to forward to a Unix socket. The
 * client falls back to an exec channel running `sicksync remote bridge`, says so once, and syncs
 * with --once and live; a host that replaces every command (a forced command) gets one error that
 * names the sshd settings to change.
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put } from '../../helpers/cli-harness.js';
import { describeRun, diffSynced, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 31, last: 35 });
const NOTICE = /^warning: .*: its sshd does not forward to Unix sockets; using `sicksync remote bridge`/;

const countNotices = (output: string): number => output.split('\n').filter((line) => NOTICE.test(line)).length;

describe('defect 14: a host whose sshd refuses forwarding', () => {
  it.each([
    ['DisableForwarding yes', { extraConfig: ['DisableForwarding yes'] }],
    ['AllowStreamLocalForwarding no', { extraConfig: ['AllowStreamLocalForwarding no', 'AllowTcpForwarding no'] }],
    ["a 'restrict' key", { keyOptions: 'restrict' }],
  ])('%s: syncs with --once and live through the bridge, with one notice', async (_what, refusal) => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'strict', ...refusal });
    const root = cli.path('project');
    await makeFlatProject(root, ['strict:~/one', 'strict:~/two'], 6);

    const once = await cli.runCli(['--once'], { cwd: root, timeoutMs: 30_000 });
    expect(once.code, describeRun(once)).toBe(0);
    expect(countNotices(once.stderr), describeRun(once)).toBe(1); // one per host, not per destination
    expect(once.stderr).not.toMatch(/Channel open failure/);
    for (const dest of ['one', 'two']) expect(await diffSynced(host.path(dest), root)).toEqual([]);

    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await put(path.join(root, 'live/new.txt'), 'made while watching\n');
      await writeFile(path.join(root, 'file-0.txt'), 'edited while watching\n');
      for (const dest of ['one', 'two']) await waitForSynced(host.path(dest), root);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    expect(countNotices(live.output), live.output).toBe(1);
    await ssh.expectNoProcessesLeft();
  });

  it('a host that forces a command of its own on this key: one error naming the sshd settings, the others converge', async () => {
    const cli = ssh.cli;
    const forced = await ssh.addHost({ alias: 'forced', extraConfig: ['DisableForwarding yes', 'ForceCommand /bin/false'] });
    const fine = await ssh.addHost({ alias: 'fine' });
    const root = cli.path('project');
    await makeFlatProject(root, ['forced:~/dest', 'fine:~/dest'], 4);

    const result = await cli.runCli(['--once'], { cwd: root, timeoutMs: 30_000 });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr).toMatch(/^error: forced:~\/dest: .*ForceCommand.*command=/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await diffSynced(fine.path('dest'), root)).toEqual([]);
    expect(forced.alias).toBe('forced');
    await ssh.expectNoProcessesLeft();
  });
});
