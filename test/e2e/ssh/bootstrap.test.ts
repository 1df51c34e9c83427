/**
 * Getting a daemon running on a host: uploading our own remote program when the host has Node.js but
 * no sicksync (and reusing it afterwards), refusing clearly when it has no Node.js, and two clients
 * bootstrapping one host at the same moment ending with one daemon there.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../../src/shared/version.js';
import { put, waitFor } from '../../helpers/cli-harness.js';
import { describeRun, diffSynced, escapeRegExp, exists, formatProcesses, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 5, last: 9 });

const BUNDLE = fileURLToPath(new URL('../../../dist/sicksync-remote.cjs', import.meta.url));

describe('bootstrap over SSH', () => {
  it('uploads the bundled remote program to ~/.sicksync/<version>/ on a host with node but no sicksync, and reuses it on the next run', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    await makeFlatProject(root, ['hostA:~/dest'], 5);
    const uploaded = host.path('.sicksync', VERSION, 'sicksync-remote.cjs');

    const first = await cli.runCli(['--once'], { cwd: root });
    expect(first.code, describeRun(first)).toBe(0);
    expect(await diffSynced(host.path('dest'), root)).toEqual([]);
    expect(Buffer.compare(await readFile(uploaded), await readFile(BUNDLE)), `${uploaded} is not the bundle`).toBe(0);
    // The state folder is the user's alone (DESIGN §4).
    expect((await stat(host.path('.sicksync'))).mode & 0o777).toBe(0o700);
    const before = await stat(uploaded, { bigint: true });
    // Let the first daemon go, so the next run has to bootstrap again rather than find it running.
    await ssh.expectNoProcessesLeft();

    await put(path.join(root, 'second.txt'), 'second run\n');
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      expect(await diffSynced(host.path('dest'), root)).toEqual([]);
      const daemons = await ssh.listRemoteDaemons(host);
      expect(daemons, formatProcesses(daemons)).toHaveLength(1);
      expect(daemons[0]!.cmdline).toContain(uploaded);
      const after = await stat(uploaded, { bigint: true });
      expect({ ino: after.ino, mtimeNs: after.mtimeNs }, 'the bundle was uploaded again').toEqual({
        ino: before.ino,
        mtimeNs: before.mtimeNs,
      });
    } finally {
      await live.stop();
    }
    expect(live.stderr, live.output).toBe('');
    await ssh.expectNoProcessesLeft();
  });

  it('refuses a host without node on its PATH, naming the destination and Node.js, while the other destinations converge', async () => {
    const cli = ssh.cli;
    const bare = await ssh.addHost({ alias: 'bare', withNode: false });
    const good = await ssh.addHost({ alias: 'good' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await makeFlatProject(root, ['bare:~/dest', 'good:~/dest', local], 5);

    const result = await cli.runCli(['--once'], { cwd: root });
    expect(result.code, describeRun(result)).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.includes('bare:~/dest'));
    expect(errors.join('\n'), describeRun(result)).toMatch(new RegExp(`^error: ${escapeRegExp('bare:~/dest')}: .*Node\\.js`, 'm'));
    expect(errors.join('\n')).toMatch(/no node on its PATH/);
    // Soft: the checks below still run when the code is missing from the output.
    expect.soft(result.stderr, 'the error code is shown with the message').toContain('SICKSYNC_E_REMOTE_NODE');
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.stderr).not.toContain('good:~/dest');
    expect(await diffSynced(good.path('dest'), root)).toEqual([]);
    expect(await diffSynced(local, root)).toEqual([]);
    // Nothing was put on the bare host.
    expect(await exists(bare.path('.sicksync'))).toBe(false);
    expect(await exists(bare.path('dest'))).toBe(false);
    await ssh.expectNoProcessesLeft();
  });

  it('two clients bootstrapping the same host at the same moment end with one daemon there, serving both', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const rootA = cli.path('project-a');
    const rootB = cli.path('project-b');
    await makeFlatProject(rootA, ['hostA:~/dest-a'], 5);
    await makeFlatProject(rootB, ['hostA:~/dest-b'], 5);

    // Neither finds a daemon or an uploaded program: both upload and run start-daemon at once.
    const clientA = cli.startCli([], { cwd: rootA });
    const clientB = cli.startCli([], { cwd: rootB });
    try {
      await Promise.all([clientA, clientB].map((client) => client.waitForLine(/watching for changes/, { timeoutMs: 30_000 })));
      // A daemon that lost the race exits at once; give it the time to.
      let daemons = await ssh.listRemoteDaemons(host);
      await waitFor(async () => (daemons = await ssh.listRemoteDaemons(host)).length === 1, 5000, {
        describe: () => formatProcesses(daemons),
      });
      await sleep(500);
      daemons = await ssh.listRemoteDaemons(host);
      expect(daemons, formatProcesses(daemons)).toHaveLength(1);
      expect(Number((await readFile(host.path('.sicksync', 'daemon.pid'), 'utf8')).trim())).toBe(daemons[0]!.pid);

      // Both clients are served by it.
      await put(path.join(rootA, 'from-a.txt'), 'a\n');
      await put(path.join(rootB, 'from-b.txt'), 'b\n');
      await waitForSynced(host.path('dest-a'), rootA);
      await waitForSynced(host.path('dest-b'), rootB);
      expect(await ssh.listRemoteDaemons(host)).toHaveLength(1);
    } finally {
      await Promise.all([clientA.stop(), clientB.stop()]);
    }
    expect(clientA.stderr, clientA.output).toBe('');
    expect(clientB.stderr, clientB.output).toBe('');
    await ssh.expectNoProcessesLeft();
  });
});
