/**
 * Defect 3 of the hardening issue: temporary files of writes that never finished (their daemon was
 * killed) are removed at the next scan of their destination, and a write still under way keeps its own.
 */
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStaleTempFile } from '../../src/shared/tree/temp-files.js';
import { MTIME } from '../helpers/entries.js';
import { putFile, useDaemonHarness, waitUntil } from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();

async function listNames(folder: string): Promise<string[]> {
  return (await readdir(folder).catch(() => [] as string[])).sort();
}

describe('defect 3: temporary files a killed daemon left behind', () => {
  it('are removed by the next scan, in every folder, while a write in progress keeps its own', async () => {
    const { paths } = await harness.startDaemon();
    const root = join(await harness.makeDir(), 'dest');
    const writer = await harness.openRaw(paths.socket);
    await writer.hello(root);
    // A write under way: its temporary file must survive the sweep.
    const op = writer.allocateOp();
    await writer.send(
      { t: 'write', op, path: 'sub/live.bin', size: 8, mode: 0o644, mtimeNs: String(MTIME), last: false },
      Buffer.from('half'),
    );
    await waitUntil(
      async () => (await listNames(join(root, 'sub'))).some((name) => name.includes('.sicksync-tmp-')),
      'the live temporary file',
    );
    const [live] = (await listNames(join(root, 'sub'))).filter((name) => name.includes('.sicksync-tmp-'));

    // Left by daemons that are gone: a pid that does not run, and the older name without a pid.
    await putFile(root, 'kept.txt', 'kept\n');
    await writeFile(join(root, '.big.bin.sicksync-tmp-999999999-0a1b2c3d4e5f'), Buffer.alloc(1024));
    await writeFile(join(root, 'sub/.notes.txt.sicksync-tmp-a1b2c3'), 'half a file');

    const scanner = await harness.openRaw(paths.socket);
    await scanner.hello(root);
    await scanner.send({ t: 'scan', req: 1 });
    const page = await scanner.waitFor((message) => message.t === 'scan-page');

    expect(page).toMatchObject({ t: 'scan-page', done: true });
    expect(await listNames(root)).toEqual(['kept.txt', 'sub']);
    expect(await listNames(join(root, 'sub'))).toEqual([live]);

    // The write then completes into place, and its temporary file is gone with it.
    await writer.send({ t: 'chunk', op, last: true }, Buffer.from('done'));
    await writer.waitFor((message) => message.t === 'ack' && message.op === op);
    expect(await listNames(join(root, 'sub'))).toEqual(['live.bin']);
  });

  it('keeps the temporary file of another sicksync that still runs, not of a process that reused its pid', async () => {
    const folder = await harness.makeDir();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'sicksync-lookalike'], { stdio: 'ignore' });
    const plain = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      expect(isStaleTempFile(join(folder, `.a.sicksync-tmp-${other.pid}-00ff`))).toBe(false);
      expect(isStaleTempFile(join(folder, `.a.sicksync-tmp-${plain.pid}-00ff`))).toBe(true);
      expect(isStaleTempFile(join(folder, `.a.sicksync-tmp-${process.pid}-00ff`)), 'ours, and no write holds it').toBe(true);
    } finally {
      other.kill('SIGKILL');
      plain.kill('SIGKILL');
    }
  });
});
