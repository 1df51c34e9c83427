/**
 * Defects 4 and 5 of the hardening issue: confinement holds at the moment of each operation, by
 * where the path really goes, and link targets are judged by what they can resolve to, not by
 * their joined text. Real daemon, raw frames, folders swapped for symlinks between operations.
 */
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/shared/errors.js';
import { CHUNK_SIZE } from '../../src/shared/protocol.js';
import { isAnswerTo, listTree, putFile, useDaemonHarness, waitUntil, type RawClient } from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
const MTIME_NS = '1700000000123456789';
const outsideCode = { t: 'nack', error: { code: ErrorCode.PATH_OUTSIDE_ROOT } };

async function openSession(): Promise<{ client: RawClient; root: string; outside: string }> {
  const { paths } = await harness.startDaemon();
  const base = await harness.makeDir();
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(outside);
  await putFile(outside, 'secret', 'do not touch\n', 0o600);
  const client = await harness.openRaw(paths.socket);
  expect(await client.hello(root)).toMatchObject({ t: 'welcome' });
  return { client, root, outside };
}

function writeHeader(path: string, size: number, last = true) {
  return { t: 'write', path, size, mode: 0o644, mtimeNs: MTIME_NS, last };
}

/** Puts a symlink to `outside` where the folder `folder` was (what another program may do any time). */
async function swapForLink(folder: string, outside: string): Promise<void> {
  await rm(folder, { recursive: true, force: true });
  await symlink(outside, folder);
}

async function expectOutsideUntouched(outside: string): Promise<void> {
  expect((await readdir(outside)).sort()).toEqual(['secret']);
  expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('do not touch\n');
  expect((await stat(join(outside, 'secret'))).mode & 0o7777).toBe(0o600);
}

describe('defect 4: a folder swapped for a symlink after the daemon used it', () => {
  it('refuses every later operation through it, and writes nothing outside the root', async () => {
    const { client, root, outside } = await openSession();
    // The daemon uses sub/ (and sub/deep/) first, so a cache of checked folders would know them.
    for (const path of ['sub/a.txt', 'sub/deep/b.txt']) {
      expect(await client.op(writeHeader(path, 3), Buffer.from('ok\n'))).toMatchObject({ t: 'ack' });
    }
    expect(await client.op({ t: 'mkdir', path: 'sub/dir', mode: 0o755 })).toMatchObject({ t: 'ack' });
    await swapForLink(join(root, 'sub'), outside);

    expect(await client.op(writeHeader('sub/x', 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op(writeHeader('sub/deep/x', 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op({ t: 'mkdir', path: 'sub/new', mode: 0o755 })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'symlink', path: 'sub/l', target: 'secret', mtimeNs: MTIME_NS })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'meta', path: 'sub/secret', mode: 0o777, mtimeNs: MTIME_NS })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'delete', path: 'sub/secret', expect: null })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'rename', from: 'sub/secret', to: 'stolen' })).toMatchObject(outsideCode);
    await putFile(root, 'mine.txt', 'mine\n');
    expect(await client.op({ t: 'rename', from: 'mine.txt', to: 'sub/mine.txt' })).toMatchObject(outsideCode);
    await client.send({ t: 'hash', req: 77, paths: ['sub/secret'] });
    expect(await client.next()).toMatchObject({ t: 'error', req: 77, error: { code: ErrorCode.PATH_OUTSIDE_ROOT } });

    await expectOutsideUntouched(outside);
    expect(client.isOpen).toBe(true);
  });

  it('refuses to finish a streamed write whose folder was swapped between its chunks', async () => {
    const { client, root, outside } = await openSession();
    const size = CHUNK_SIZE + 10;
    const op = client.allocateOp();
    await client.send({ ...writeHeader('stream/big.bin', size, false), op }, Buffer.alloc(CHUNK_SIZE, 1));
    await waitUntil(async () => (await readdir(join(root, 'stream')).catch(() => [])).length === 1, 'the temporary file');
    // The first chunk went to a temporary file inside stream/; now stream/ leads outside.
    await rename(join(root, 'stream'), join(root, 'moved'));
    await symlink(outside, join(root, 'stream'));
    await client.send({ t: 'chunk', op, last: true }, Buffer.alloc(10, 2));
    const answer = await client.waitFor(isAnswerTo(op), `the answer to write ${op}`);

    expect(answer).toMatchObject(outsideCode);
    await expectOutsideUntouched(outside);
    expect((await lstat(join(root, 'stream'))).isSymbolicLink()).toBe(true);
    // Its temporary file stayed where the folder went; the next scan sweeps it.
    await client.send({ t: 'scan', req: 5 });
    await client.waitFor((message) => message.t === 'scan-page' && message.done === true, 'the end of the scan');
    expect(await listTree(join(root, 'moved'))).toEqual([]);
  });

  it('keeps the folder times of a swapped folder where they are: nothing outside moves', async () => {
    const { client, root, outside } = await openSession();
    expect(await client.op(writeHeader('t/a.txt', 3), Buffer.from('ok\n'))).toMatchObject({ t: 'ack' });
    const before = await stat(outside, { bigint: true });
    await swapForLink(join(root, 't'), outside);
    expect(await client.op({ t: 'delete', path: 't/secret', expect: null })).toMatchObject(outsideCode);
    expect(await client.op(writeHeader('t/b.txt', 3), Buffer.from('ok\n'))).toMatchObject(outsideCode);
    expect((await stat(outside, { bigint: true })).mtimeNs).toBe(before.mtimeNs);
    await expectOutsideUntouched(outside);
  });
});

describe('defect 4: the destination folder itself swapped or moved after the handshake', () => {
  it('refuses writes once the root is a symlink to elsewhere, and once it was moved away', async () => {
    const { client, root, outside } = await openSession();
    expect(await client.op(writeHeader('a.txt', 3), Buffer.from('ok\n'))).toMatchObject({ t: 'ack' });
    await rename(root, `${root}-moved`);
    await symlink(outside, root);
    expect(await client.op(writeHeader('x.txt', 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op({ t: 'mkdir', path: 'sub', mode: 0o755 })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'delete', path: 'secret', expect: null })).toMatchObject(outsideCode);
    await expectOutsideUntouched(outside);
    expect(await listTree(`${root}-moved`)).toEqual(['a.txt']);
  });
});

describe('defect 5: link targets judged by what they can resolve to', () => {
  it('refuses `up -> dot/..` whatever `dot` is, and creates nothing', async () => {
    const { client, root } = await openSession();
    expect(await client.op({ t: 'symlink', path: 'dot', target: '.', mtimeNs: MTIME_NS })).toMatchObject({ t: 'ack' });
    expect(await client.op({ t: 'symlink', path: 'up', target: 'dot/..', mtimeNs: MTIME_NS })).toMatchObject(outsideCode);
    // Sent first (before `dot` exists) it is refused as well: `dot` could become a link later.
    expect(await client.op({ t: 'symlink', path: 'up2', target: 'later/..', mtimeNs: MTIME_NS })).toMatchObject(outsideCode);
    expect(await listTree(root)).toEqual(['dot']);
  });

  it('accepts links that climb no higher than their own folder, then go down by names', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'dir/file.txt', 'x\n');
    for (const [path, target] of [
      ['dirlink', 'dir'],
      ['dir/sub/uplink', '../../dir/file.txt'],
      ['dir/self', '.'],
    ] as const) {
      expect(await client.op({ t: 'symlink', path, target, mtimeNs: MTIME_NS })).toMatchObject({ t: 'ack' });
      expect(await readlink(join(root, path))).toBe(target);
    }
  });
});
