/**
 * Large files over SSH go as deltas against the version on the host: after an edit in place or an
 * insertion, the host holds exactly the new file, and the summary counts the bytes that crossed
 * the connection (a few blocks), not the file's size. Local folders get whole files, as before.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, useSshHarness } from '../../helpers/ssh-harness.js';
import { writeProjectFile } from '../fixtures.js';

const ssh = useSshHarness({ first: 48, last: 49 });
const MiB = 1024 * 1024;

/** The bytes a summary line says were sent, in MB as printed (`(1.2 MB sent)`). */
function sentMegabytes(stdout: string, destination: string): number {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(`${destination}: `)) ?? '';
  const match = /\(([\d.]+) (B|KB|MB|GB) sent\)/.exec(line);
  if (!match) throw new Error(`no "sent" in ${JSON.stringify(line)}`);
  const scale = { B: 1e-6, KB: 1e-3, MB: 1, GB: 1e3 }[match[2] as 'B' | 'KB' | 'MB' | 'GB'];
  return Number(match[1]) * scale;
}

describe('delta transfer over SSH', () => {
  it('sends an edited 8 MiB file as its changed blocks, and the host ends with the same bytes', async () => {
    const cli = ssh.cli;
    const host = await ssh.addHost({ alias: 'deltaHost' });
    const root = cli.path('project');
    const local = cli.path('local-dest');
    await writeProjectFile(root, { destinations: ['deltaHost:~/dest', local] });
    const original = randomBytes(8 * MiB);
    await writeFile(path.join(root, 'data.bin'), original);
    const first = await cli.runCli(['--once'], { cwd: root });
    expect(first.code, describeRun(first)).toBe(0);

    // 64 KiB rewritten in place, and 1,000 bytes inserted further on: everything after it moves.
    const edited = Buffer.from(original);
    randomBytes(64 * 1024).copy(edited, 2 * MiB);
    const next = Buffer.concat([edited.subarray(0, 5 * MiB), randomBytes(1000), edited.subarray(5 * MiB)]);
    await writeFile(path.join(root, 'data.bin'), next);
    const second = await cli.runCli(['--once'], { cwd: root });
    expect(second.code, describeRun(second)).toBe(0);
    expect((await readFile(host.path('dest/data.bin'))).equals(next)).toBe(true);
    expect((await readFile(path.join(local, 'data.bin'))).equals(next)).toBe(true);
    // Two changed regions and the blocks they touch, far below the file's 8 MiB.
    expect(sentMegabytes(second.stdout, 'deltaHost:~/dest')).toBeLessThan(0.5);
    expect(sentMegabytes(second.stdout, local)).toBeGreaterThanOrEqual(8);
    await ssh.expectNoProcessesLeft();
  });
});
