/**
 * The daemon's side of two-way sync, through a raw client: change notices of a watched destination
 * (and none for what the client itself wrote), reads of content that must still be what the client
 * saw, guarded writes, versions kept in the history, and the same confinement for every new message.
 */
import { mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/shared/errors.js';
import type { DaemonMessage } from '../../src/shared/protocol.js';
import { toUtimesSeconds } from '../../src/shared/tree/fs-helpers.js';
import { getEntryAt, putFile, useDaemonHarness, type RawClient } from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
const MTIME_NS = '1700000000123456789';

async function openSession(): Promise<{ client: RawClient; root: string; base: string }> {
  const { paths } = await harness.startDaemon();
  const base = await harness.makeDir();
  const root = join(base, 'root');
  await mkdir(root);
  const client = await harness.openRaw(paths.socket);
  expect(await client.hello(root, { history: { versions: 5, days: 30 } })).toMatchObject({ t: 'welcome', capabilities: { watch: true } });
  return { client, root, base };
}

async function scan(client: RawClient, watch: boolean): Promise<void> {
  await client.send({ t: 'scan', req: 1, watch });
  await client.waitFor((message) => message.t === 'scan-page' && message.done, 'the last scan page');
}

const isChanges = (message: DaemonMessage): boolean => message.t === 'changes';

describe('a watched destination', () => {
  it('tells its client what changed there, and nothing of what the client wrote itself', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'a.txt', 'a\n');
    await scan(client, true);

    await writeFile(join(root, 'made-there.txt'), 'by a build\n');
    const notice = await client.waitFor(isChanges, 'a change notice');
    expect(notice).toMatchObject({ t: 'changes', entries: [expect.objectContaining({ path: 'made-there.txt', size: 11 })] });

    const ack = await client.op(
      { t: 'write', path: 'from-client.txt', size: 3, mode: 0o644, mtimeNs: MTIME_NS, last: true },
      Buffer.from('abc'),
    );
    expect(ack).toMatchObject({ t: 'ack' });
    await client.op({ t: 'mkdir', path: 'folder', mode: 0o755 });
    await sleep(400);
    expect(client.pending.filter(isChanges), 'no echo of its own writes').toEqual([]);

    // A folder the client made is watched too.
    await writeFile(join(root, 'folder', 'inside.txt'), 'x');
    const inside = await client.waitFor(isChanges, 'a notice from inside a new folder');
    expect(JSON.stringify(inside)).toContain('folder/inside.txt');
  });

  it('a same-size write made right after one of the client\u2019s is reported, not taken for its echo', async () => {
    const { client, root } = await openSession();
    await scan(client, true);
    const ack = await client.op({ t: 'write', path: 'f.txt', size: 4, mode: 0o644, mtimeNs: MTIME_NS, last: true }, Buffer.from('ours'));
    expect(ack).toMatchObject({ t: 'ack' });
    // In place, same size, same inode, and (as a write in the same kernel tick would have) the
    // same mtime: only the content differs.
    await writeFile(join(root, 'f.txt'), 'them');
    const seconds = toUtimesSeconds(MTIME_NS);
    await utimes(join(root, 'f.txt'), seconds, seconds);
    expect((await getEntryAt(root, 'f.txt'))!.mtimeNs).toBe((ack as { entry: { mtimeNs: string } }).entry.mtimeNs);
    const notice = await client.waitFor(isChanges, 'a notice for the overwrite');
    expect(JSON.stringify(notice)).toContain('f.txt');
  });
});

describe('guarded writes and history', () => {
  it('refuses a two-way write whose target changed since the plan, saying what is there, and keeps replaced versions', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'n.txt', 'original\n');
    const seen = (await getEntryAt(root, 'n.txt'))!;
    await writeFile(join(root, 'n.txt'), 'edited there!\n');

    const refused = await client.op(
      { t: 'write', path: 'n.txt', size: 3, mode: 0o644, mtimeNs: MTIME_NS, last: true, guard: { expect: seen, ifChanged: 'refuse' } },
      Buffer.from('new'),
    );
    expect(refused).toMatchObject({ t: 'nack', error: { code: ErrorCode.TARGET_CHANGED }, current: { path: 'n.txt', size: 14 } });
    expect(await readFile(join(root, 'n.txt'), 'utf8')).toBe('edited there!\n');

    const now = (await getEntryAt(root, 'n.txt'))!;
    const ack = await client.op(
      { t: 'write', path: 'n.txt', size: 3, mode: 0o644, mtimeNs: MTIME_NS, last: true, guard: { expect: now, ifChanged: 'refuse' } },
      Buffer.from('new'),
    );
    expect(ack).toMatchObject({ t: 'ack' });
    await client.send({ t: 'versions', req: 9, path: 'n.txt' });
    const versions = await client.waitFor((message) => message.t === 'versions-list', 'the versions');
    expect(versions).toMatchObject({ versions: [expect.objectContaining({ number: 1, size: 14 })] });
    const [kept] = await readdir(join(root, '.sicksync/history'));
    expect(await readFile(join(root, '.sicksync/history', kept!), 'utf8')).toBe('edited there!\n');
  });
});

describe('read', () => {
  it('streams a file that is still what the client saw, and refuses one that changed', async () => {
    const { client, root } = await openSession();
    await putFile(root, 'data.bin', Buffer.alloc(3 * 1024 * 1024 + 5, 7));
    const entry = (await getEntryAt(root, 'data.bin'))!;
    await client.send({ t: 'read', req: 4, path: 'data.bin', size: entry.size, mtimeNs: entry.mtimeNs });
    const last = await client.waitFor((message) => message.t === 'data' && message.last, 'the last piece', 10_000);
    expect(last).toMatchObject({ t: 'data', req: 4 });
    expect(client.pending.filter((message) => message.t === 'data')).toHaveLength(3);

    await client.send({ t: 'read', req: 5, path: 'data.bin', size: entry.size, mtimeNs: '1' });
    expect(await client.waitFor((message) => message.t === 'error')).toMatchObject({ req: 5, error: { code: ErrorCode.SOURCE_CHANGED } });
  });

  it('refuses paths that leave the root, go through a symlink, or are excluded, for this request only', async () => {
    const { client, root, base } = await openSession();
    await writeFile(join(base, 'secret.txt'), 'secret');
    await symlink(base, join(root, 'out'));
    const outside = await getEntryAt(base, 'secret.txt');
    let req = 10;
    for (const path of ['../secret.txt', 'out/secret.txt', '.sicksync/../../secret.txt', '/etc/passwd']) {
      req += 1;
      await client.send({ t: 'read', req, path, size: outside!.size, mtimeNs: outside!.mtimeNs });
      const answer = await client.waitFor((message) => message.t === 'error' || message.t === 'data', `the answer to ${path}`);
      expect(answer, path).toMatchObject({ t: 'error', req });
    }
    expect(client.isOpen).toBe(true);
    await client.send({ t: 'versions', req: 30, path: '../secret.txt' });
    expect(await client.waitFor((message) => message.t === 'error')).toMatchObject({
      req: 30,
      error: { code: ErrorCode.PATH_OUTSIDE_ROOT },
    });
  });
});

describe('rename', () => {
  it('refuses a move that would take a link above the root: a link moved up, or a folder holding one', async () => {
    const { client, root, base } = await openSession();
    await client.op({ t: 'mkdir', path: 'a', mode: 0o755 });
    await client.op({ t: 'mkdir', path: 'a/b', mode: 0o755 });
    expect(await client.op({ t: 'symlink', path: 'a/up', target: '..', mtimeNs: MTIME_NS })).toMatchObject({ t: 'ack' });
    expect(await client.op({ t: 'symlink', path: 'a/b/l', target: '../../x', mtimeNs: MTIME_NS })).toMatchObject({ t: 'ack' });

    const outside = { t: 'nack', error: { code: ErrorCode.PATH_OUTSIDE_ROOT } };
    expect(await client.op({ t: 'rename', from: 'a/up', to: 'up' }), 'a link moved up').toMatchObject(outside);
    expect(await client.op({ t: 'rename', from: 'a/b', to: 'b' }), 'a folder holding a link moved up').toMatchObject(outside);
    expect(await readdir(root)).toEqual(['a']);
    expect(await readdir(base)).toEqual(['root']);
    // Deeper is fine: the links still land inside.
    await client.op({ t: 'mkdir', path: 'c', mode: 0o755 });
    expect(await client.op({ t: 'rename', from: 'a/up', to: 'c/up' })).toMatchObject({ t: 'ack' });
    expect(client.isOpen).toBe(true);
  });
});
