/**
 * Host key verification against the client's known_hosts, with real sshd host keys: an unknown or a
 * changed key is refused with a message that names the file (and line), before anything reaches the
 * host; `StrictHostKeyChecking accept-new` records a new key and goes on.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, diffSynced, escapeRegExp, exists, useSshHarness, type TestHost } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 10, last: 14 });

/** A fresh ed25519 public key (type and base64), made with ssh-keygen: the same type as the hosts'. */
async function makeOtherHostKey(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hk-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'key')]);
    return (await readFile(path.join(dir, 'key.pub'), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Nothing of sicksync reached the host: no state folder, no destination folder. */
async function expectUntouched(host: TestHost): Promise<void> {
  expect(await exists(host.path('.sicksync')), `${host.alias}: ~/.sicksync exists`).toBe(false);
  expect(await exists(host.path('dest')), `${host.alias}: ~/dest exists`).toBe(false);
}

describe('host keys', () => {
  it('refuses a host whose key is not in known_hosts, naming the file, and writes nothing there', async () => {
    const cli = ssh.cli;
    const stranger = await ssh.addHost({ alias: 'stranger', trusted: false });
    const good = await ssh.addHost({ alias: 'good' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await makeFlatProject(root, ['stranger:~/dest', 'good:~/dest', local], 4);
    const knownHosts = cli.path('.ssh', 'known_hosts');
    const recorded = await readFile(knownHosts, 'utf8');

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: stranger:~/dest: .*not in ${escapeRegExp(knownHosts)}`, 'm'));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('good:~/dest');
    await expectUntouched(stranger);
    // The key was not recorded behind the user's back.
    expect(await readFile(knownHosts, 'utf8')).toBe(recorded);
    expect(await diffSynced(good.path('dest'), root)).toEqual([]);
    expect(await diffSynced(local, root)).toEqual([]);
    await ssh.expectNoProcessesLeft();
  });

  it('refuses a host whose key changed, naming the file and the line of the recorded key, and writes nothing there', async () => {
    const cli = ssh.cli;
    const good = await ssh.addHost({ alias: 'good' });
    const moved = await ssh.addHost({ alias: 'moved', trusted: false });
    const knownHosts = cli.path('.ssh', 'known_hosts');
    // A key of the same type recorded for that [address]:port: what a reinstalled host looks like.
    await appendFile(knownHosts, `# reinstalled since\n[${moved.address}]:${moved.port} ${await makeOtherHostKey()}\n`);
    const line = (await readFile(knownHosts, 'utf8')).trimEnd().split('\n').length;
    const root = cli.path('project');
    await makeFlatProject(root, ['moved:~/dest', 'good:~/dest'], 4);

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(1);
    const error = result.stderr.split('\n').find((text) => text.startsWith('error: moved:~/dest: ')) ?? '';
    expect(error, describeRun(result)).toMatch(/changed/);
    expect(error).toContain(`${knownHosts} (line ${line})`);
    expect(error).toContain(`ssh-keygen -R '[${moved.address}]:${moved.port}'`);
    await expectUntouched(moved);
    expect(await diffSynced(good.path('dest'), root)).toEqual([]);
    await ssh.expectNoProcessesLeft();
  });

  it('refuses a host whose key is marked @revoked, even when it is also recorded', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'revoked' });
    const knownHosts = cli.path('.ssh', 'known_hosts');
    const entry = (await readFile(knownHosts, 'utf8'))
      .trim()
      .split('\n')
      .find((text) => text.startsWith(`[${host.address}]:${host.port} `))!;
    await appendFile(knownHosts, `@revoked ${entry}\n`);
    const root = cli.path('project');
    await makeFlatProject(root, ['revoked:~/dest'], 2);

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: revoked:~/dest: .*@revoked in ${escapeRegExp(knownHosts)} \\(line 2\\)`, 'm'));
    await expectUntouched(host);
    await ssh.expectNoProcessesLeft();
  });

  it('records an unknown key and goes on when ~/.ssh/config says StrictHostKeyChecking accept-new', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'fresh', trusted: false });
    await appendFile(cli.path('.ssh', 'config'), 'Host fresh\n  StrictHostKeyChecking accept-new\n');
    const knownHosts = cli.path('.ssh', 'known_hosts');
    const root = cli.path('project');
    await makeFlatProject(root, ['fresh:~/dest'], 3);

    const first = await cli.runCli(['--once'], { cwd: root });
    expect(first.code, describeRun(first)).toBe(0);
    expect(await diffSynced(host.path('dest'), root)).toEqual([]);
    const hostKey = (await readFile(path.join(host.root, 'host_key.pub'), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    expect(await readFile(knownHosts, 'utf8')).toContain(`[${host.address}]:${host.port} ${hostKey}\n`);

    // From now on it is a known host, also for ssh(1) itself.
    execFileSync('ssh-keygen', ['-F', `[${host.address}]:${host.port}`, '-f', knownHosts]);
    const second = await cli.runCli(['--once'], { cwd: root });
    expect(second.code, describeRun(second)).toBe(0);
    await ssh.expectNoProcessesLeft();
  });
});
