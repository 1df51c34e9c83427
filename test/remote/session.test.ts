/**
 * One client's session at the daemon: paths confined to the root, atomic writes, and deletes that
 * never destroy what the client did not expect. Hand-made frames on a real socket, real folders.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/shared/errors.js';
import { CHUNK_SIZE } from '../../src/shared/protocol.js';
import { getBlockSize } from '../../src/shared/delta.js';
import {
  getEntryAt,
  getOpFor,
  isAnswerTo,
  listTree,
  putFile,
  useDaemonHarness,
  waitUntil,
  type RawClient,
  folderSource,
} from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
const MTIME_NS = '1700000000123456789';

/** A daemon and one raw client whose root is `<base>/root`, so that `<base>` shows any escape. */
async function openSession(excludes: string[] = []): Promise<{ client: RawClient; root: string; base: string }> {
  const { paths } = await harness.startDaemon();
  const base = await harness.makeDir();
  const root = join(base, 'root');
  const client = await harness.openRaw(paths.socket);
  expect(await client.hello(root, { excludes })).toMatchObject({ t: 'welcome', root });
  return { client, root, base };
}

async function startSocket(): Promise<string> {
  return (await harness.startDaemon()).paths.socket;
}

function writeHeader(path: string, size: number, last = true) {
  return { t: 'write', path, size, mode: 0o644, mtimeNs: MTIME_NS, last };
}

async function listTemps(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.includes('.sicksync-tmp-'));
}

describe('confinement', () => {
  const outsideCode = { t: 'nack', error: { code: ErrorCode.PATH_OUTSIDE_ROOT } };

  it.each(['../escape', '/abs', 'a/../../x', 'a/./b', 'a//b', 'back\\slash'])('refuses every op on the path %j', async (path) => {
    const { client, root, base } = await openSession();
    await putFile(root, 'inside.txt', 'inside\n');

    expect(await client.op(writeHeader(path, 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op({ t: 'mkdir', path, mode: 0o755 })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'symlink', path, target: 'inside.txt', mtimeNs: '1700000000000000000' })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'meta', path, mode: 0o777, mtimeNs: null })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'delete', path, expect: null })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'rename', from: 'inside.txt', to: path })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'rename', from: path, to: 'stolen' })).toMatchObject(outsideCode);

    expect(await readdir(base)).toEqual(['root']);
    expect(existsSync('/abs')).toBe(false);
    expect(await listTree(root)).toEqual(['inside.txt']);
    expect(client.isOpen).toBe(true);
  });

  it('refuses paths through a symlinked parent that leads outside the root, and changes nothing there', async () => {
    const { client, root } = await openSession();
    const outside = await harness.makeDir('sdt-out-');
    await putFile(outside, 'secret', 'do not touch\n', 0o600);
    await symlink(outside, join(root, 'link'));
    await putFile(root, 'a.txt', 'a\n');

    expect(await client.op(writeHeader('link/x', 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op(writeHeader('link/new/deep/x', 4), Buffer.from('evil'))).toMatchObject(outsideCode);
    expect(await client.op({ t: 'mkdir', path: 'link/sub', mode: 0o755 })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'symlink', path: 'link/l', target: 'secret', mtimeNs: '1700000000000000000' })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'meta', path: 'link/secret', mode: 0o777, mtimeNs: MTIME_NS })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'delete', path: 'link/secret', expect: null })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'rename', from: 'a.txt', to: 'link/a.txt' })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'rename', from: 'link/secret', to: 'stolen' })).toMatchObject(outsideCode);

    expect(await listTree(outside)).toEqual(['secret']);
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('do not touch\n');
    expect((await stat(join(outside, 'secret'))).mode & 0o7777).toBe(0o600);
    expect(await listTree(root)).toEqual(['a.txt', 'link']);

    // The connection is still usable.
    expect(await client.op(writeHeader('ok.txt', 3), Buffer.from('ok\n'))).toMatchObject({ t: 'ack', entry: { path: 'ok.txt', size: 3 } });
    expect(await readFile(join(root, 'ok.txt'), 'utf8')).toBe('ok\n');
  });

  it('refuses to hash a file through a symlinked parent with an error naming the request (regression: a failed hash answered with an anonymous error)', async () => {
    const { client, root } = await openSession();
    const outside = await harness.makeDir('sdt-out-');
    await putFile(outside, 'secret', 'do not read\n');
    await symlink(outside, join(root, 'link'));

    await client.send({ t: 'hash', req: 9, paths: ['link/secret'] });
    const answer = await client.next();

    // An error that does not name its request cannot be matched to it by the client.
    expect(answer).toMatchObject({ t: 'error', req: 9, error: { code: ErrorCode.PATH_OUTSIDE_ROOT } });
    expect(client.isOpen).toBe(true);
  });

  it('does not hash a file outside the root through a symlink named by the request (regression: hash followed the link)', async () => {
    const { client, root } = await openSession();
    const outside = await harness.makeDir('sdt-out-');
    await putFile(outside, 'secret', 'do not read\n');
    await symlink(join(outside, 'secret'), join(root, 'filelink'));

    await client.send({ t: 'hash', req: 3, paths: ['filelink'] });
    const answer = await client.next();

    // Refusing the path or answering "no content hash" both keep the secret's digest at home.
    if (answer.t === 'error') expect(answer.error.code).toBe(ErrorCode.PATH_OUTSIDE_ROOT);
    else expect(answer).toEqual({ t: 'hashes', req: 3, hashes: { filelink: null } });
  });

  it('refuses symlinks whose target leads outside the root', async () => {
    const { client, root } = await openSession();

    expect(await client.op({ t: 'symlink', path: 'l', target: '../../etc', mtimeNs: '1700000000000000000' })).toMatchObject(outsideCode);
    expect(await client.op({ t: 'symlink', path: 'sub/l', target: '../../etc', mtimeNs: '1700000000000000000' })).toMatchObject(
      outsideCode,
    );
    expect(await client.op({ t: 'symlink', path: 'abs', target: '/etc', mtimeNs: '1700000000000000000' })).toMatchObject(outsideCode);
    expect(await listTree(root)).toEqual([]);

    // A target that climbs but stays inside is a plain link.
    const inside = await client.op({ t: 'symlink', path: 'a/b/l', target: '../../etc', mtimeNs: '1700000000000000000' });
    expect(inside).toMatchObject({ t: 'ack', entry: { kind: 'symlink', target: '../../etc' } });
    expect(await readlink(join(root, 'a/b/l'))).toBe('../../etc');
  });

  it('replaces a symlink named by a write instead of writing through it', async () => {
    const { client, root } = await openSession();
    const outside = await harness.makeDir('sdt-out-');
    await putFile(outside, 'secret', 'do not touch\n', 0o600);
    await symlink(join(outside, 'secret'), join(root, 'filelink'));

    expect(await client.op(writeHeader('filelink', 4), Buffer.from('mine'))).toMatchObject({ t: 'ack' });
    expect(await client.op({ t: 'meta', path: 'filelink', mode: 0o777, mtimeNs: MTIME_NS })).toMatchObject({ t: 'ack' });

    expect((await lstat(join(root, 'filelink'))).isFile()).toBe(true);
    expect(await readFile(join(root, 'filelink'), 'utf8')).toBe('mine');
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('do not touch\n');
    expect((await stat(join(outside, 'secret'))).mode & 0o7777).toBe(0o600);
  });

  it('does not chmod a folder outside the root through a symlink named by mkdir or meta (regression: mkdir followed the link)', async () => {
    const { client, root } = await openSession();
    const outside = await harness.makeDir('sdt-out-');
    const before = (await stat(outside)).mode & 0o7777;
    await symlink(outside, join(root, 'link'));

    const viaMeta = await client.op({ t: 'meta', path: 'link', mode: 0o777, mtimeNs: null });
    expect((await stat(outside)).mode & 0o7777, 'after meta').toBe(before);
    expect(viaMeta.t).toBe('ack');

    const viaMkdir = await client.op({ t: 'mkdir', path: 'link', mode: 0o777 });
    expect((await stat(outside)).mode & 0o7777, `after mkdir (${JSON.stringify(viaMkdir)})`).toBe(before);
  });

  it('refuses paths the project excludes', async () => {
    const { client, root } = await openSession(['*.log']);

    expect(await client.op(writeHeader('debug.log', 2), Buffer.from('no'))).toMatchObject(outsideCode);
    expect(await client.op(writeHeader('x.sicksync-tmp-abc', 2), Buffer.from('no'))).toMatchObject(outsideCode);
    expect(await listTree(root)).toEqual([]);
  });
});

describe('atomic write', () => {
  it('never shows partial content at the target while a chunked write is under way', async () => {
    const { client, root } = await openSession();
    const old = Buffer.from('old content\n');
    await putFile(root, 'big.bin', old);
    const fresh = randomBytes(3 * CHUNK_SIZE);
    const chunks = [0, 1, 2].map((i) => fresh.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));

    // A reader that keeps looking at the target for the whole write.
    const seen = new Set<string>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const content = await readFile(join(root, 'big.bin'));
        seen.add(content.equals(old) ? 'old' : content.equals(fresh) ? 'new' : `partial (${content.length} bytes)`);
        await sleep(1);
      }
    })();

    const op = client.allocateOp();
    await client.send({ ...writeHeader('big.bin', fresh.length, false), op }, chunks[0]);
    for (const [i, chunk] of chunks.slice(1).entries()) {
      // The chunks so far have reached a temporary file next to the target, not the target.
      await waitUntil(
        async () => {
          const temps = await listTemps(root);
          return temps.length === 1 && (await stat(join(root, temps[0]!))).size === (i + 1) * CHUNK_SIZE;
        },
        `${i + 1} chunk(s) reach the temporary file`,
      );
      expect((await listTemps(root))[0]).toMatch(/^\.big\.bin\.sicksync-tmp-\d+-[0-9a-f]+$/);
      expect((await readFile(join(root, 'big.bin'))).equals(old)).toBe(true);
      await client.send({ t: 'chunk', op, last: i === chunks.length - 2 }, chunk);
    }
    const ack = await client.waitFor(isAnswerTo(op), 'the ack of the write');
    reading = false;
    await reader;

    expect(ack).toMatchObject({ t: 'ack', entry: { path: 'big.bin', size: fresh.length } });
    expect((await readFile(join(root, 'big.bin'))).equals(fresh)).toBe(true);
    expect(await listTemps(root)).toEqual([]);
    expect([...seen].filter((what) => what !== 'old' && what !== 'new')).toEqual([]);
  });

  it.each(['terminate', 'close'] as const)('leaves no temporary file when the client disconnects mid-write (%s)', async (how) => {
    const { client, root } = await openSession();
    await putFile(root, 'dir/big.bin', 'old\n');
    const folderBefore = await getEntryAt(root, 'dir');
    const fresh = randomBytes(2 * CHUNK_SIZE);

    await client.send({ ...writeHeader('dir/big.bin', fresh.length, false), op: client.allocateOp() }, fresh.subarray(0, CHUNK_SIZE));
    await waitUntil(async () => (await listTemps(join(root, 'dir'))).length === 1, 'the temporary file appears');
    if (how === 'terminate') client.terminate();
    else client.ws.close();
    await client.closed;

    await waitUntil(async () => (await listTemps(join(root, 'dir'))).length === 0, 'the temporary file is removed');
    expect(await readFile(join(root, 'dir/big.bin'), 'utf8')).toBe('old\n');
    // The folder looks as if nothing had happened in it.
    const folderAfter = await getEntryAt(root, 'dir');
    expect(BigInt(folderAfter!.mtimeNs) - BigInt(folderBefore!.mtimeNs)).toBeLessThan(1000n);
    expect(BigInt(folderBefore!.mtimeNs) - BigInt(folderAfter!.mtimeNs)).toBeLessThan(1000n);
  });

  it('refuses a write whose bytes do not match its announced size, keeping the old content', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'f.txt', 'old\n');

    expect(await client.op(writeHeader('f.txt', 10), Buffer.from('short'))).toMatchObject({
      t: 'nack',
      error: { code: ErrorCode.PROTOCOL },
    });
    expect(await client.op(writeHeader('f.txt', 2), Buffer.from('too long'))).toMatchObject({
      t: 'nack',
      error: { code: ErrorCode.PROTOCOL },
    });

    expect(await readFile(join(root, 'f.txt'), 'utf8')).toBe('old\n');
    expect(await listTemps(root)).toEqual([]);
    expect(client.isOpen).toBe(true);
  });

  it('aborts an open write on request, keeping the old content', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'f.bin', 'old\n');
    const op = client.allocateOp();
    await client.send({ ...writeHeader('f.bin', 2 * CHUNK_SIZE, false), op }, randomBytes(CHUNK_SIZE));
    await client.send({ t: 'abort', op });
    // Any later operation on the same file waits for the abort (scheduler), so its answer is a barrier.
    expect(await client.op({ t: 'meta', path: 'f.bin', mode: 0o644, mtimeNs: null })).toMatchObject({ t: 'ack' });

    // The client gave the write up itself: the abort is not answered.
    expect(client.pending.filter(isAnswerTo(op))).toEqual([]);
    expect(await listTemps(root)).toEqual([]);
    expect(await readFile(join(root, 'f.bin'), 'utf8')).toBe('old\n');
  });
});

describe('delete guard at the daemon', () => {
  it('deletes a file that is what the client expects', async () => {
    const socket = await startSocket();
    const root = await harness.makeDir();
    await putFile(root, 'gone.txt', 'bye\n');
    const expected = (await getEntryAt(root, 'gone.txt'))!;
    const connection = await harness.connect(socket, root);

    expect(
      await connection.apply(
        { kind: 'delete', side: 'remote', path: 'gone.txt', guard: { expect: expected, ifChanged: 'keep' } },
        folderSource(root),
      ),
    ).toEqual({ entry: null });
    expect(existsSync(join(root, 'gone.txt'))).toBe(false);
    expect(
      await connection.apply(
        { kind: 'delete', side: 'remote', path: 'gone.txt', guard: { expect: expected, ifChanged: 'keep' } },
        folderSource(root),
      ),
    ).toEqual({
      entry: null,
      note: 'already gone',
    });
  });

  it.each([
    ['its content changed', async (file: string) => writeFile(file, 'edited at the destination, longer\n')],
    ['its mtime changed', async (file: string) => utimes(file, 1_600_000_000, 1_600_000_000)],
  ])('keeps the file as a conflict copy, with a note, when %s since the last sync', async (_what, change) => {
    const socket = await startSocket();
    const root = await harness.makeDir();
    await putFile(root, 'notes.txt', 'synced\n');
    const expected = (await getEntryAt(root, 'notes.txt'))!;
    await change(join(root, 'notes.txt'));
    const current = await readFile(join(root, 'notes.txt'));
    const connection = await harness.connect(socket, root);

    const result = await connection.apply(
      { kind: 'delete', side: 'remote', path: 'notes.txt', guard: { expect: expected, ifChanged: 'keep' } },
      folderSource(root),
    );

    const names = await listTree(root);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^notes\.sicksync-conflict-\d{8}-\d{6}-[A-Za-z0-9_-]+\.txt$/);
    expect((await readFile(join(root, names[0]!))).equals(current)).toBe(true);
    expect(result.note).toContain(`kept as ${names[0]}`);
  });

  it('keeps a folder that still holds files the client does not know, with a note', async () => {
    const socket = await startSocket();
    const root = await harness.makeDir();
    await putFile(root, 'build/unknown.txt', 'only here\n');
    await putFile(root, 'logs/debug.log', 'excluded\n');
    const connection = await harness.connect(socket, root, ['*.log']);

    for (const folder of ['build', 'logs']) {
      const expected = (await getEntryAt(root, folder))!;
      const result = await connection.apply(
        { kind: 'delete', side: 'remote', path: folder, guard: { expect: expected, ifChanged: 'keep' } },
        folderSource(root),
      );
      expect(result.note, folder).toMatch(/^kept/);
      expect(result.entry, folder).toMatchObject({ path: folder, kind: 'dir' });
    }
    expect(await listTree(root)).toEqual(['build', 'build/unknown.txt', 'logs', 'logs/debug.log']);
  });

  it('deletes an empty folder', async () => {
    const socket = await startSocket();
    const root = await harness.makeDir();
    await mkdir(join(root, 'empty'));
    const connection = await harness.connect(socket, root);

    const result = await connection.apply(
      { kind: 'delete', side: 'remote', path: 'empty', guard: { expect: (await getEntryAt(root, 'empty'))!, ifChanged: 'keep' } },
      folderSource(root),
    );

    expect(result).toEqual({ entry: null });
    expect(await listTree(root)).toEqual([]);
  });
});

describe('operations in order', () => {
  it('keeps folder times sent after a streamed file in that folder (regression: the folder meta ran between the chunks)', async () => {
    const { client, root } = await openSession();
    const content = randomBytes(3 * CHUNK_SIZE);
    const folderTime = '1600000000123456789';

    // The order a push sends them in: the whole file, then its folder's times.
    const write = client.allocateOp();
    const meta = client.allocateOp();
    await client.send({ ...writeHeader('dir/big.bin', content.length, false), op: write }, content.subarray(0, CHUNK_SIZE));
    await client.send({ t: 'chunk', op: write, last: false }, content.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE));
    await client.send({ t: 'chunk', op: write, last: true }, content.subarray(2 * CHUNK_SIZE));
    await client.send({ t: 'meta', op: meta, path: 'dir', mode: 0o755, mtimeNs: folderTime });

    expect(await client.waitFor(isAnswerTo(write))).toMatchObject({ t: 'ack' });
    expect(await client.waitFor(isAnswerTo(meta))).toMatchObject({ t: 'ack' });
    expect((await readFile(join(root, 'dir/big.bin'))).equals(content)).toBe(true);
    const folder = (await getEntryAt(root, 'dir'))!;
    const delta = BigInt(folder.mtimeNs) - BigInt(folderTime);
    expect(delta > -1000n && delta < 1000n, `folder mtime ${folder.mtimeNs}, sent ${folderTime}`).toBe(true);
  });

  it('renames, sets times and writes through a DaemonConnection built from real local files', async () => {
    const socket = await startSocket();
    const [local, root] = [await harness.makeDir(), await harness.makeDir()];
    await putFile(local, 'a.txt', 'alpha\n', 0o600);
    const connection = await harness.connect(socket, root);
    await connection.apply(await getOpFor(local, 'a.txt'), folderSource(local));

    const moved = await connection.apply(
      { kind: 'rename', side: 'remote', from: 'a.txt', path: 'sub/b.txt', entry: (await getEntryAt(local, 'a.txt'))! },
      folderSource(local),
    );

    expect(moved.entry).toMatchObject({ path: 'sub/b.txt', kind: 'file', size: 6, mode: 0o600 });
    expect(await listTree(root)).toEqual(['sub', 'sub/b.txt']);
  });
});

describe('delta writes from an untrusted client', () => {
  const MiB = 1024 * 1024;

  async function withBase(): Promise<{ client: RawClient; root: string; base: { size: number; mtimeNs: string }; old: Buffer }> {
    const { client, root } = await openSession();
    const old = randomBytes(2 * MiB);
    await writeFile(join(root, 'big.bin'), old);
    const entry = (await getEntryAt(root, 'big.bin'))!;
    return { client, root, base: { size: entry.size, mtimeNs: entry.mtimeNs }, old };
  }

  const deltaHeader = (base: { size: number; mtimeNs: string }, fields: Record<string, unknown> = {}) => ({
    t: 'write-delta',
    path: 'big.bin',
    size: 4096,
    mode: 0o644,
    mtimeNs: MTIME_NS,
    base,
    blockSize: getBlockSize(base.size),
    last: true,
    ...fields,
  });

  it('answers a signature of the file it has, and refuses one for a version that is not there', async () => {
    const { client, base } = await withBase();
    await client.send({ t: 'signature', req: 7, path: 'big.bin', ...base });
    const answer = await client.waitFor((message) => message.t === 'signature-data' || message.t === 'error', 'the signature');
    expect(answer).toMatchObject({ t: 'signature-data', req: 7, blockSize: getBlockSize(base.size) });
    await client.send({ t: 'signature', req: 8, path: 'big.bin', size: base.size + 1, mtimeNs: base.mtimeNs });
    expect(await client.waitFor((message) => message.t === 'error', 'the refusal')).toMatchObject({
      t: 'error',
      req: 8,
      error: { code: ErrorCode.SOURCE_CHANGED },
    });
  });

  it('refuses instructions out of the old file, a wrong block size, and a base that changed, leaving the file and no temporary file', async () => {
    const { client, root, base, old } = await withBase();
    const outOfRange = Buffer.from([1, 0, 1, 0, 0, 0, 0, 0, 1]); // COPY block 65536 of 512
    expect(await client.op(deltaHeader(base), outOfRange)).toMatchObject({ t: 'nack', error: { code: ErrorCode.PROTOCOL } });
    expect(await client.op(deltaHeader(base, { blockSize: 1024 }), outOfRange)).toMatchObject({
      t: 'nack',
      error: { code: ErrorCode.PROTOCOL },
    });
    expect(await client.op(deltaHeader({ ...base, mtimeNs: MTIME_NS }), outOfRange)).toMatchObject({
      t: 'nack',
      error: { code: ErrorCode.SOURCE_CHANGED },
    });
    expect((await readFile(join(root, 'big.bin'))).equals(old)).toBe(true);
    expect(await readdir(root)).toEqual(['big.bin']);
    // The connection is still good for a proper delta: the first block, copied.
    const copyFirst = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 1]);
    const size = getBlockSize(base.size);
    expect(await client.op(deltaHeader(base, { size }), copyFirst)).toMatchObject({ t: 'ack', entry: { size } });
    expect((await readFile(join(root, 'big.bin'))).equals(old.subarray(0, size))).toBe(true);
  });
});
