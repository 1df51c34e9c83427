/**
 * Both ways over the real sshd: two hosts, one bidirectional and one push; edits on every side at
 * once; changes made while stopped; 1,000 files rewritten on a host; no echo once edits stop. Every
 * version any side wrote must survive somewhere: the final file, a conflict copy, or a history.
 */
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { put, readFileContents, type CliProcess } from '../../helpers/cli-harness.js';
import { describeRun, useSshHarness, waitForSynced } from '../../helpers/ssh-harness.js';
import { writeProjectFile } from '../fixtures.js';

const ssh = useSshHarness({ first: 44, last: 47 });
const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;

/** Bytes a process has written (sockets included), from /proc. */
async function getBytesWritten(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? NaN);
}

async function converge(cli: CliProcess, a: string, b: string): Promise<void> {
  try {
    await waitForSynced(a, b, {}, 30_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nsicksync printed:\n${cli.output}`);
  }
}

describe('two-way sync over SSH', () => {
  it('edit storms on the project and a bidirectional host at once: all sides end the same, nothing written is lost, traffic stops', async () => {
    const cli = ssh.cli;
    const both = await ssh.addHost({ alias: 'both' });
    const mirror = await ssh.addHost({ alias: 'mirror' });
    const root = cli.path('project');
    await writeProjectFile(root, {
      destinations: [{ hostname: 'both', destinationLocation: '~/work', mode: 'bidirectional' }, 'mirror:~/copy'],
    });
    const names = Array.from({ length: 12 }, (_, i) => `f${i}.txt`);
    for (const name of names) await put(path.join(root, name), `start ${name}\n`);
    const run = cli.startCli([], { cwd: root });
    await run.waitForLine(WATCHING, { timeoutMs: 30_000 });
    const there = both.path('work');
    await converge(run, there, root);

    // Both sides write the same files in rounds, at the same moments; every version is logged. A
    // side rewrites one of its files no sooner than 600 ms later: a version its own side replaced
    // before anyone could read it was never there to keep.
    const written: string[] = [];
    for (let round = 0; round < 6; round += 1) {
      await Promise.all(
        names.map(async (name, i) => {
          if ((i + round) % 3 === 0) {
            const text = `local r${round} ${name}\n`;
            written.push(text);
            await writeFile(path.join(root, name), text);
          }
          if ((i + round) % 2 === 0) {
            // f0's host version has the size of its local one: same size, same kernel tick.
            const text = `host r${round} ${name} ${'x'.repeat(i)}\n`;
            written.push(text);
            await writeFile(path.join(there, name), text);
          }
        }),
      );
      await sleep(300 + round * 20);
    }
    await put(path.join(there, 'made-there/out.log.txt'), 'from the host\n');
    written.push('from the host\n');

    await converge(run, there, root);
    await converge(run, mirror.path('copy'), root);
    const kept = [...(await readFileContents(root)), ...(await readFileContents(there)), ...(await readFileContents(mirror.path('copy')))];
    const lost = written.filter((text) => !kept.includes(text));
    expect(lost, `versions lost; sicksync printed:\n${run.output}`).toEqual([]);

    // No echo loop: once all sides agree, nothing more is applied, and the client writes no more
    // than heartbeats (a ping a second in tests) to its sockets.
    await sleep(1500);
    const quiet = run.lines.length;
    const before = await getBytesWritten(run.pid);
    await sleep(3000);
    const written3s = (await getBytesWritten(run.pid)) - before;
    expect(run.lines.slice(quiet)).toEqual([]);
    expect(written3s, 'bytes the client wrote in 3 s of quiet').toBeLessThan(16 * 1024);

    const result = await run.stop();
    expect(result.code, run.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });

  it('finds changes made on both sides while stopped, and brings 1,000 files rewritten on the host back whole', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'gpu' });
    const root = cli.path('project');
    await writeProjectFile(root, { destinations: [{ hostname: 'gpu', destinationLocation: '~/w', mode: 'bidirectional' }] });
    const files = Array.from({ length: 1000 }, (_, i) => `src/p${i % 25}/m${i}.ts`);
    for (const [i, name] of files.entries()) await put(path.join(root, name), `export const v${i} = 1;\n`);
    await put(path.join(root, 'deleted-here.txt'), 'x\n');
    await put(path.join(root, 'deleted-there.txt'), 'y\n');
    const first = await cli.runCli(['--once'], { cwd: root, timeoutMs: 60_000 });
    expect(first.code, describeRun(first)).toBe(0);

    const there = host.path('w');
    await writeFile(path.join(root, 'src/p1/m1.ts'), 'edited here while stopped\n');
    await writeFile(path.join(there, 'src/p2/m2.ts'), 'edited there while stopped\n');
    await unlink(path.join(root, 'deleted-here.txt'));
    await unlink(path.join(there, 'deleted-there.txt'));
    // Modify against delete, both ways: the modification is kept.
    await unlink(path.join(root, 'src/p3/m3.ts'));
    await writeFile(path.join(there, 'src/p3/m3.ts'), 'edited there, deleted here\n');
    await writeFile(path.join(root, 'src/p4/m4.ts'), 'edited here, deleted there\n');
    await unlink(path.join(there, 'src/p4/m4.ts'));
    const run = cli.startCli([], { cwd: root });
    await run.waitForLine(WATCHING, { timeoutMs: 60_000 });
    await converge(run, there, root);
    expect(await readFile(path.join(there, 'src/p1/m1.ts'), 'utf8')).toBe('edited here while stopped\n');
    expect(await readFile(path.join(root, 'src/p2/m2.ts'), 'utf8')).toBe('edited there while stopped\n');
    expect(await readFile(path.join(root, 'src/p3/m3.ts'), 'utf8')).toBe('edited there, deleted here\n');
    expect(await readFile(path.join(there, 'src/p4/m4.ts'), 'utf8')).toBe('edited here, deleted there\n');
    for (const side of [root, there]) {
      const names = await readdir(side);
      expect(names).not.toContain('deleted-here.txt');
      expect(names).not.toContain('deleted-there.txt');
    }

    // A branch switch on the host: every file rewritten at once.
    await Promise.all(files.map((name, i) => writeFile(path.join(there, name), `export const v${i} = 2; // branch\n`)));
    await converge(run, root, there);
    expect(await readFile(path.join(root, 'src/p9/m509.ts'), 'utf8')).toBe('export const v509 = 2; // branch\n');

    const result = await run.stop();
    expect(result.code, run.output).toBe(0);
    await ssh.expectNoProcessesLeft();
  });
});
