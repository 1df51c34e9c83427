/**
 * A live client outlives its host's troubles: when the host's sshd dies (connections cut) or the
 * daemon there is killed, it keeps the edits made meanwhile, reconnects with backoff, and brings the
 * host up to date without being restarted; nothing is lost.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { put, waitFor } from '../../helpers/cli-harness.js';
import { formatProcesses, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 20, last: 24 });

/** One round of edits of every kind: create, modify, delete, rename (file-NN.txt from makeFlatProject). */
async function editRound(root: string, round: number): Promise<void> {
  await put(path.join(root, `round-${round}/new.txt`), `created in round ${round}\n`);
  await writeFile(path.join(root, 'file-00.txt'), `modified in round ${round}\n`);
  await unlink(path.join(root, `file-${String(round + 1).padStart(2, '0')}.txt`));
  await rename(path.join(root, `file-${String(round + 10).padStart(2, '0')}.txt`), path.join(root, `renamed-${round}.txt`));
}

describe('reconnecting', () => {
  it('catches a host up after its sshd was killed mid-edits and came back, without restarting the client', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await makeFlatProject(root, ['hostA:~/dest', local], 20);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await editRound(root, 0);
      await waitForSynced(host.path('dest'), root);

      await editRound(root, 1);
      await ssh.cutHost(host);
      const lost = await live.waitForLine(/^warning: hostA:~\/dest: connection lost/, { timeoutMs: 10_000 });
      // Edits while the host is away, spread over a few reconnect attempts.
      for (let round = 2; round < 5; round += 1) {
        await editRound(root, round);
        await sleep(300);
      }
      await live.waitForLine(/^warning: hostA:~\/dest: cannot reach hostA .*connection refused.*; retrying in/, { fromLine: lost.index });
      // The local destination is not held back meanwhile.
      await waitForSynced(local, root);

      await host.start();
      await editRound(root, 5);
      await waitForSynced(host.path('dest'), root, {}, 30_000);
      await waitForSynced(local, root);
      expect(live.isRunning, 'the client was not restarted').toBe(true);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('catches a host up after its daemon was killed (SIGKILL) mid-edits, starting a new one there', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    await makeFlatProject(root, ['hostA:~/dest'], 20);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await editRound(root, 0);
      await waitForSynced(host.path('dest'), root);

      const pidFile = host.path('.sicksync', 'daemon.pid');
      const killed = Number((await readFile(pidFile, 'utf8')).trim());
      const daemons = await ssh.listRemoteDaemons(host);
      expect(
        daemons.map((info) => info.pid),
        formatProcesses(daemons),
      ).toEqual([killed]);
      await editRound(root, 1);
      process.kill(killed, 'SIGKILL');
      for (let round = 2; round < 5; round += 1) {
        await editRound(root, round);
        await sleep(200);
      }
      await waitForSynced(host.path('dest'), root, {}, 30_000);

      // A new daemon serves it now, and only one.
      let now = await ssh.listRemoteDaemons(host);
      await waitFor(async () => (now = await ssh.listRemoteDaemons(host)).length === 1, 5000, { describe: () => formatProcesses(now) });
      expect(now[0]!.pid).not.toBe(killed);
      expect(Number((await readFile(pidFile, 'utf8')).trim())).toBe(now[0]!.pid);
      await editRound(root, 5);
      await waitForSynced(host.path('dest'), root);
      expect(live.isRunning, 'the client was not restarted').toBe(true);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('notices within a few heartbeats that a host stopped answering (frozen sshd), and catches it up once it answers again', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    await makeFlatProject(root, ['hostA:~/dest'], 4);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await waitForSynced(host.path('dest'), root);

      // Nothing is closed: only the heartbeat (SICKSYNC_HEARTBEAT_MS=1000 here) can tell.
      const cut = await ssh.freezeHost(host);
      try {
        const from = live.lines.length;
        await writeFile(path.join(root, 'file-01.txt'), 'written while the host hangs\n');
        await live.waitForLine(/^warning: hostA:~\/dest: connection lost/, { fromLine: from, timeoutMs: 8000 });
      } finally {
        cut();
      }
      // sshd still listens: the client reconnects and catches up.
      await waitForSynced(host.path('dest'), root, {}, 30_000);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('keeps a rename that was in flight when the connection dropped (the old name must not stay at the destination)', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'hostA' });
    const root = cli.path('project');
    await makeFlatProject(root, ['hostA:~/dest'], 4);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await waitForSynced(host.path('dest'), root);

      // The rename is sent into a connection that hangs, and the connection then breaks before the
      // host has read it: it was never applied there, and never acknowledged.
      const cut = await ssh.freezeHost(host);
      try {
        const from = live.lines.length;
        await rename(path.join(root, 'file-01.txt'), path.join(root, 'moved.txt'));
        await sleep(1000);
        cut();
        await live.waitForLine(/^warning: hostA:~\/dest: connection lost/, { fromLine: from, timeoutMs: 10_000 });
      } finally {
        cut();
      }
      // sshd still listens: the client reconnects and catches up, old name gone, new name there.
      await waitForSynced(host.path('dest'), root, {}, 20_000);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });
});
