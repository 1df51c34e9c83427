/**
 * What ~/.ssh/config and the long form of a destination decide, seen end to end: a host reached only
 * through a ProxyJump host, and a host named by address, port and user with the default key.
 */
import { appendFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { describeRun, diffSynced, escapeRegExp, useSshHarness } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 25, last: 27 });

describe('ssh options', () => {
  it('reaches a host through its ProxyJump host, and cannot when the jump host is down', async () => {
    const cli = ssh.cli;
    const jump = await ssh.addHost({ alias: 'jumpA' });
    const target = await ssh.addHost({ alias: 'target' });
    await appendFile(cli.path('.ssh', 'config'), 'Host target\n  ProxyJump jumpA\n');
    const root = cli.path('project');
    await makeFlatProject(root, ['target:~/dest'], 3);

    const through = await cli.runCli(['--once'], { cwd: root });
    expect(through.code, describeRun(through)).toBe(0);
    expect(await diffSynced(target.path('dest'), root)).toEqual([]);
    await ssh.expectNoProcessesLeft();

    // The target's own sshd still runs: only the way through the jump host is gone.
    await jump.stop();
    const blocked = await cli.runCli(['--once'], { cwd: root });
    expect(blocked.code, describeRun(blocked)).toBe(1);
    expect(blocked.stderr).toMatch(
      new RegExp(`^error: target:~/dest: cannot reach jumpA \\(${escapeRegExp(jump.address)}:${jump.port}\\)`, 'm'),
    );
    await ssh.expectNoProcessesLeft();
  });

  it('takes hostname, port and username from the long form of a destination, with the default key ~/.ssh/id_ed25519', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'unused-alias' });
    const root = cli.path('project');
    await makeFlatProject(root, [], 3, {
      destinations: [{ hostname: host.address, port: host.port, username: userInfo().username, destinationLocation: '~/long/dest' }],
    });

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(0);
    expect(await diffSynced(host.path('long/dest'), root)).toEqual([]);
    await ssh.expectNoProcessesLeft();
  });
});
