/**
 * Defect 16 of the hardening issue: the live client crashed with an unhandled 'error' from the SSH
 * client ("Connection lost before handshake") while it reconnected to a host whose sshd was being
 * restarted. Here sshd is killed (SIGKILL, its sessions too) and restarted over and over at
 * uneven moments, often in the middle of a handshake, while edits keep coming; the client must
 * stay up, print no stack, and catch the host up at the end. Fault tier: kill -9 of sshd during a
 * large file leaves the old file or the whole new one, and no temporary file.
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { put } from '../../helpers/cli-harness.js';
import { FileVersions, hashFile, listTempFiles, waitForTempFileOf, writeLargeFile } from '../../helpers/faults.js';
import { useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { makeFlatProject } from '../fixtures.js';

const ssh = useSshHarness({ first: 41, last: 43 });

describe('defect 16: sshd restarted again and again while a live client reconnects', () => {
  it('keeps the client running, without an unhandled error, and converges once sshd stays up', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'flaky' });
    const root = cli.path('project');
    await makeFlatProject(root, ['flaky:~/dest'], 10);
    const live = cli.startCli([], { cwd: root });
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      // Down times and up times chosen to land inside the client's backoff steps and handshakes.
      const pauses = [40, 120, 15, 260, 5, 90, 30, 180, 10, 60, 0, 140];
      for (const [round, pause] of pauses.entries()) {
        await ssh.cutHost(host, { hard: round % 2 === 0 });
        await put(path.join(root, `round-${round}.txt`), `written in round ${round}\n`);
        await sleep(pause);
        await host.start();
        await sleep(pauses[(round + 5) % pauses.length]);
        expect(live.isRunning, `the client is still running after round ${round}:\n${live.output}`).toBe(true);
      }
      await writeFile(path.join(root, 'file-00.txt'), 'last edit\n');
      // An attempt caught by one of the cuts can wait out the 60 s limit of its SSH command (seen
      // under a loaded suite) before the next one succeeds.
      await waitForSynced(host.path('dest'), root, {}, 90_000).catch((error: Error) => {
        throw new Error(`${error.message}\nthe client printed:\n${live.output}`);
      });
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    expect(live.output).not.toMatch(/unhandled|Unhandled|\n\s+at /);
    await ssh.expectNoProcessesLeft();
  }, 120_000);

  it('kill -9 of sshd during a large file: the host keeps the old file or gets the whole new one, and no temporary file stays', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'bigfile' });
    const root = cli.path('project');
    await makeFlatProject(root, ['bigfile:~/dest'], 2);
    await put(path.join(root, 'big.bin'), 'small first version\n');
    const live = cli.startCli([], { cwd: root });
    const target = host.path('dest', 'big.bin');
    try {
      await live.waitForLine(/watching for changes/, { timeoutMs: 30_000 });
      await waitForSynced(host.path('dest'), root);
      const versions = new FileVersions(target);
      const content = await writeLargeFile(path.join(root, 'big.bin'), 150 * 1024 * 1024, cli.path('staging.bin'));
      await waitForTempFileOf(target, 8 * 1024 * 1024, 30_000);
      await ssh.cutHost(host, { hard: true });
      await sleep(300);
      await host.start();
      await waitForSynced(host.path('dest'), root, {}, 60_000);
      await versions.stop();
      expect(await hashFile(target)).toEqual(content);
      expect(
        versions.seen.filter((seen) => seen === 'in place'),
        'a half-written version was visible',
      ).toEqual([]);
      expect(await listTempFiles(host.path('dest'))).toEqual([]);
    } finally {
      await live.stop();
    }
    expect(live.child.exitCode, live.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  }, 120_000);
});
