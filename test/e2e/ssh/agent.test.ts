/**
 * Logging in with a key held by ssh-agent (SSH_AUTH_SOCK), as ssh does, with no key file on disk;
 * and a passphrase-protected key without an agent, which a non-interactive run skips with a hint.
 */
import { execFileSync, spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { describeRun, diffSynced, exists, useSshHarness } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 28, last: 30 });

async function startAgent(socket: string): Promise<() => void> {
  // -D: stays in the foreground, so the test owns the process and ends it.
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await exists(socket)); i++) await sleep(20);
  return () => agent.kill('SIGTERM');
}

describe('SSH authentication', () => {
  it('logs in with a key held by ssh-agent when no key file is left on disk', async () => {
    const cli = ssh.cli;
    await ssh.addHost({ alias: 'hostA' });
    const key = path.join(cli.home, '.ssh', 'id_ed25519');
    const socket = path.join(cli.home, 'agent.sock');
    const stopAgent = await startAgent(socket);
    try {
      execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
      await rm(key);
      const root = cli.path('project');
      await makeFlatProject(root, ['hostA:~/dest'], 3);
      const run = await cli.runCli(['--once'], { cwd: root, env: { SSH_AUTH_SOCK: socket } });
      expect(run.code, describeRun(run)).toBe(0);
      expect(await diffSynced(ssh.hosts[0]!.path('dest'), root)).toEqual([]);
    } finally {
      stopAgent();
    }
    await ssh.expectNoProcessesLeft();
  });

  it('skips a passphrase-protected key without an agent, and says to load it into ssh-agent', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostB' });
    const key = path.join(cli.home, '.ssh', 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', 'secret phrase', '-f', key]);
    const root = cli.path('project');
    await makeFlatProject(root, ['hostB:~/dest'], 2);
    await writeFile(path.join(root, 'extra.txt'), 'x');
    const run = await cli.runCli(['--once'], { cwd: root, env: { SSH_AUTH_SOCK: '' } });
    expect(run.code, describeRun(run)).toBe(1);
    expect(run.stderr).toMatch(/needs a passphrase: add it to ssh-agent with ssh-add/);
    expect(run.stderr).toContain('SICKSYNC_E_SSH');
    expect(await exists(host.path('dest'))).toBe(false);
    await ssh.expectNoProcessesLeft();
  });
});
