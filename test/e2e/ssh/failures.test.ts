/**
 * One destination failing never holds back the others: a host whose sshd is down, and a destination
 * path the host refuses, each get a clear error naming that destination while the rest converge.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put } from '../../helpers/cli-harness.js';
import { describeRun, diffSynced, escapeRegExp, exists, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 15, last: 19 });

describe('a failing destination', () => {
  it('an unreachable host (sshd stopped) gets a clear error, the others converge, and --once exits 1', async () => {
    const cli = ssh.cli;
    const down = await ssh.addHost({ alias: 'down' });
    const up = await ssh.addHost({ alias: 'up' });
    await down.stop();
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await makeFlatProject(root, ['down:~/dest', 'up:~/dest', local], 4);

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^error: down:~/dest: cannot reach down \\(${escapeRegExp(`${down.address}:${down.port}`)}\\): connection refused`, 'm'),
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('up:~/dest');
    expect(result.stdout).toMatch(/some destinations did not converge/);
    expect(await diffSynced(up.path('dest'), root)).toEqual([]);
    expect(await diffSynced(local, root)).toEqual([]);
    expect(await exists(down.path('dest'))).toBe(false);
    await ssh.expectNoProcessesLeft();
  });

  it('live, an unreachable host does not hold back the others and catches up once its sshd is back', async () => {
    const cli = ssh.cli;
    const down = await ssh.addHost({ alias: 'down' });
    const up = await ssh.addHost({ alias: 'up' });
    await down.stop();
    const root = cli.path('project');
    await makeFlatProject(root, ['down:~/dest', 'up:~/dest'], 4);

    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/^warning: down:~\/dest: cannot reach down .*connection refused.*; retrying in/, { timeoutMs: 20_000 });
      // "watching" waits for every destination's catch-up (defect 15); the client says which is behind.
      await live.waitForLine(/^warning: not caught up yet: down:~\/dest/, { timeoutMs: 20_000 });
      await put(path.join(root, 'while-down.txt'), 'written while down was down\n');
      await waitForSynced(up.path('dest'), root);

      await down.start();
      await waitForSynced(down.path('dest'), root, {}, 30_000);
      await live.waitForLine(/watching for changes/, { timeoutMs: 20_000 });
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('a destination path the host refuses (/sys: EPERM) gets an error naming it; the other destinations on that host and elsewhere converge', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    // Tests run as root, so permission bits would stop nothing: /sys refuses new folders even to root.
    const refused = 'hostA:/sys/sicksync-forbidden';
    await makeFlatProject(root, [refused, 'hostA:~/ok', local], 4);

    const result = await cli.runCli(['--once'], { cwd: root, timeoutMs: 20_000 });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr, describeRun(result)).toMatch(
      new RegExp(`^error: ${escapeRegExp(refused)}: .*(operation not permitted|permission denied)`, 'mi'),
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('hostA:~/ok');
    expect(result.stderr).not.toContain(local);
    expect(await diffSynced(host.path('ok'), root)).toEqual([]);
    expect(await diffSynced(local, root)).toEqual([]);
    await ssh.expectNoProcessesLeft();
  });

  it('a destination under /proc (where a recursive mkdir never returns) gets an error instead of hanging --once; the others converge', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    const refused = 'hostA:/proc/sicksync-forbidden/dest';
    await makeFlatProject(root, [refused, 'hostA:~/ok', local], 4);

    const result = await cli.runCli(['--once'], { cwd: root, timeoutMs: 20_000 });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr, describeRun(result)).toMatch(new RegExp(`^error: ${escapeRegExp(refused)}: .+`, 'm'));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('hostA:~/ok');
    expect(await diffSynced(host.path('ok'), root)).toEqual([]);
    expect(await diffSynced(local, root)).toEqual([]);
    // The host's daemon is not left spinning on it once the client has gone.
    await ssh.expectNoProcessesLeft();
  });
});
