/**
 * The daemon as its clients see it: handshake, many clients and projects at once, bad frames, the
 * idle exit and the heartbeat. An in-process Daemon on a real Unix socket, real clients, real folders.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { isSocketLive } from '../../src/remote/socket-claim.js';
import { ErrorCode } from '../../src/shared/errors.js';
import { createIgnoreRules } from '../../src/shared/ignore-rules.js';
import type { Op } from '../../src/shared/plan/types.js';
import { CHUNK_SIZE, PROTOCOL_VERSION } from '../../src/shared/protocol.js';
import { getSortedEntries, scanTree } from '../../src/shared/scan.js';
import {
  getEntryAt,
  getMetaOp,
  getOpFor,
  listTree,
  makeFrame,
  putFile,
  useDaemonHarness,
  waitUntil,
  getHomeStatePaths,
  type RawClient,
  folderSource,
} from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();

function isWithinMicrosecond(a: string, b: string): boolean {
  const delta = BigInt(a) - BigInt(b);
  return delta > -1000n && delta < 1000n;
}

describe('handshake', () => {
  it("welcomes a client of its protocol, resolving ~ against the daemon's home and creating the root", async () => {
    const { paths, home } = await harness.startDaemon();
    vi.stubEnv('HOME', home); // the in-process daemon's home is this process's
    const client = await harness.openRaw(paths.socket);

    const welcome = await client.hello('~/src/web');

    expect(welcome).toMatchObject({ t: 'welcome', protocol: PROTOCOL_VERSION, root: join(home, 'src/web') });
    expect((await stat(join(home, 'src/web'))).isDirectory()).toBe(true);
  });

  it('creates a missing absolute root with its parents', async () => {
    const { paths } = await harness.startDaemon();
    const root = join(await harness.makeDir(), 'a/b/c');
    const client = await harness.openRaw(paths.socket);

    expect(await client.hello(root)).toMatchObject({ t: 'welcome', root });
    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it('refuses a client of another protocol version, closes the connection and creates nothing', async () => {
    const { paths } = await harness.startDaemon();
    const root = join(await harness.makeDir(), 'never');
    const client = await harness.openRaw(paths.socket);

    const answer = await client.hello(root, { protocol: PROTOCOL_VERSION + 1 });

    expect(answer).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL_VERSION } });
    expect(answer.t === 'error' && answer.error.message).toContain(`speaks ${PROTOCOL_VERSION}`);
    expect((await client.closed).code).toBe(1008);
    expect(existsSync(root)).toBe(false);
  });

  it('answers an operation sent before the hello with a protocol error and applies nothing', async () => {
    const { paths } = await harness.startDaemon();
    const root = await harness.makeDir();
    const client = await harness.openRaw(paths.socket);

    await client.send({ t: 'mkdir', op: 1, path: 'early', mode: 0o755 });
    const answer = await client.next();

    expect(answer).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL } });
    expect(answer.t === 'error' && answer.error.message).toContain('before the handshake');
    // Whether or not the connection survives, the refused op must not run once a root is known.
    if (client.isOpen) {
      expect(await client.hello(root)).toMatchObject({ t: 'welcome' });
      await sleep(50);
    }
    expect(await listTree(root)).toEqual([]);
  });

  it('refuses a relative root and a second hello', async () => {
    const { paths } = await harness.startDaemon();
    const root = await harness.makeDir();
    const client = await harness.openRaw(paths.socket);

    expect(await client.hello('relative/root')).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL } });
    expect(await client.hello(root)).toMatchObject({ t: 'welcome', root });
    expect(await client.hello(root)).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL } });
  });
});

describe('several clients at once', () => {
  /** A small project with executables, nested folders, an empty file, an old mtime and optionally a big file. */
  async function makeProject(name: string): Promise<string> {
    const local = await harness.makeDir(`sdt-${name}-`);
    await putFile(local, 'README.md', `# ${name}\n`);
    await putFile(local, 'bin/run.sh', `#!/bin/sh\necho ${name}\n`, 0o755);
    await putFile(local, 'data/blob.bin', randomBytes(100_000), 0o600);
    await putFile(local, 'data/nested/deep/empty.txt', '', 0o640);
    await putFile(local, 'old.txt', 'from long ago\n');
    await utimes(join(local, 'old.txt'), 1_500_000_000.123456, 1_500_000_000.123456);
    // Not a multiple of the chunk size, so the last chunk is a short one.
    await putFile(local, 'media/big.bin', randomBytes(5 * CHUNK_SIZE + 12_345));
    return local;
  }

  /** What a first push sends: folders, then files, then folder times (children first). */
  async function getPushOps(local: string): Promise<Op[]> {
    const entries = getSortedEntries(await scanTree(local, createIgnoreRules([])));
    const creates = await Promise.all(entries.map((entry) => getOpFor(local, entry.path)));
    const dirs = entries.filter((entry) => entry.kind === 'dir').reverse();
    const times = await Promise.all(dirs.map((entry) => getMetaOp(local, entry.path)));
    return [...creates.filter((op) => op.kind === 'mkdir'), ...creates.filter((op) => op.kind !== 'mkdir'), ...times];
  }

  it('applies pipelined writes from three clients into three roots concurrently, keeping bytes, modes and mtimes', async () => {
    const { paths } = await harness.startDaemon();
    const destinations = await harness.makeDir();
    const projects = await Promise.all(
      ['web', 'api', 'ml'].map(async (name) => ({ name, local: await makeProject(name), root: join(destinations, name) })),
    );

    await Promise.all(
      projects.map(async ({ local, root }) => {
        const connection = await harness.connect(paths.socket, root);
        const ops = await getPushOps(local);
        // Every op is sent before any ack is awaited, and three connections do so at the same time.
        const results = await Promise.all(ops.map((op) => connection.apply(op, folderSource(local))));
        for (const [i, result] of results.entries()) {
          const op = ops[i]!;
          if (op.kind === 'write') expect(result.entry).toMatchObject({ path: op.path, kind: 'file', size: op.entry.size });
        }
      }),
    );

    for (const { local, root } of projects) {
      const source = await scanTree(local, createIgnoreRules([]));
      const copy = await scanTree(root, createIgnoreRules([]));
      expect([...copy.keys()].sort()).toEqual([...source.keys()].sort());
      // Nothing else either: no temporary file left over (the scan would hide them).
      expect(await listTree(root)).toEqual([...source.keys()].sort());
      for (const entry of source.values()) {
        const copied = copy.get(entry.path)!;
        expect({ path: copied.path, kind: copied.kind, size: copied.size, mode: copied.mode }).toEqual({
          path: entry.path,
          kind: entry.kind,
          size: entry.size,
          mode: entry.mode,
        });
        expect(isWithinMicrosecond(copied.mtimeNs, entry.mtimeNs), `mtime of ${entry.path}: ${copied.mtimeNs} vs ${entry.mtimeNs}`).toBe(
          true,
        );
        if (entry.kind === 'file') {
          expect((await readFile(join(root, entry.path))).equals(await readFile(join(local, entry.path))), `content of ${entry.path}`).toBe(
            true,
          );
        }
      }
    }
  });

  it('scans each root for its own client only', async () => {
    const { paths } = await harness.startDaemon();
    const [a, b] = [await harness.makeDir(), await harness.makeDir()];
    await putFile(a, 'only-a.txt', 'a');
    await putFile(b, 'only-b.txt', 'b');
    const [first, second] = await Promise.all([harness.connect(paths.socket, a), harness.connect(paths.socket, b)]);

    const [scanA, scanB] = await Promise.all([first.scan(false), second.scan(false)]);

    expect([...scanA.keys()]).toEqual(['only-a.txt']);
    expect([...scanB.keys()]).toEqual(['only-b.txt']);
  });
});

describe('malformed frames', () => {
  const mkdirHeader = { t: 'mkdir', op: 1, path: 'made', mode: 0o755 };
  const cases: [string, (client: RawClient) => Promise<void>][] = [
    ['a text frame', (client) => client.sendBytes(JSON.stringify(mkdirHeader), false)],
    ['garbage bytes shorter than the length prefix', (client) => client.sendBytes(Buffer.from([0xde, 0xad, 0xbe]))],
    [
      'a header length beyond the frame',
      (client) => client.sendBytes(Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), Buffer.from('{}')])),
    ],
    [
      'a header that is not JSON',
      (client) => {
        const header = Buffer.from('{"t":"mkdir","op":1,');
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(header.length, 0);
        return client.sendBytes(Buffer.concat([prefix, header]));
      },
    ],
    ['a JSON header that is not an object', (client) => client.sendBytes(makeFrame(42))],
    ['an unknown message type', (client) => client.send({ t: 'format-disk', op: 1, path: 'made' })],
    ['a field of the wrong type', (client) => client.send({ ...mkdirHeader, mode: 'rwx' })],
    ['a payload on a message that carries none', (client) => client.send(mkdirHeader, Buffer.from('surprise'))],
  ];

  it.each(cases)('refuses %s with SICKSYNC_E_PROTOCOL and closes that client only', async (_name, sendBad) => {
    const { paths, daemon } = await harness.startDaemon();
    const [goodRoot, badRoot, local] = [await harness.makeDir(), await harness.makeDir(), await harness.makeDir()];
    const good = await harness.connect(paths.socket, goodRoot);
    const bad = await harness.openRaw(paths.socket);
    expect(await bad.hello(badRoot)).toMatchObject({ t: 'welcome' });

    await sendBad(bad);

    expect(await bad.next()).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL } });
    expect((await bad.closed).code).toBe(1008);
    expect(await listTree(badRoot)).toEqual([]);

    // The daemon keeps serving the client that did nothing wrong.
    await putFile(local, 'after.txt', 'still served\n');
    const result = await good.apply(await getOpFor(local, 'after.txt'), folderSource(local));
    expect(result.entry).toMatchObject({ path: 'after.txt', size: 13 });
    expect(await readFile(join(goodRoot, 'after.txt'), 'utf8')).toBe('still served\n');
    await waitUntil(() => daemon.clientCount === 1, 'the refused client is counted out');
    expect(bad.badFrames).toEqual([]);
  });

  it('applies no frame that arrives after a refused one (regression: ops queued behind a bad frame ran)', async () => {
    const { paths } = await harness.startDaemon();
    const root = await harness.makeDir();
    const bad = await harness.openRaw(paths.socket);
    expect(await bad.hello(root)).toMatchObject({ t: 'welcome' });

    // Both leave in the same burst, before the client can know the first was refused.
    const sent = Promise.all([bad.sendBytes(Buffer.from([1, 2, 3])), bad.send({ t: 'mkdir', op: 7, path: 'after-refusal', mode: 0o755 })]);
    await sent;
    expect(await bad.next()).toMatchObject({ t: 'error', error: { code: ErrorCode.PROTOCOL } });
    await bad.closed;
    await sleep(100);

    expect(bad.pending.filter((m) => m.t === 'ack')).toEqual([]);
    expect(await listTree(root)).toEqual([]);
  });
});

describe('idle exit', () => {
  it('exits a grace period after its last client leaves, removing its socket and pid files', async () => {
    const { paths, daemon } = await harness.startDaemon({ graceMs: 300 });
    let exited = false;
    void daemon.done.then(() => (exited = true));
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(await harness.makeDir())).toMatchObject({ t: 'welcome' });
    await sleep(600);
    expect(exited).toBe(false); // a connected client keeps it alive past the grace period
    expect(existsSync(paths.pid)).toBe(true);

    client.ws.close();
    await client.closed;
    const left = Date.now();
    await daemon.done;

    expect(Date.now() - left).toBeGreaterThanOrEqual(250);
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.pid)).toBe(false);
    expect(await isSocketLive(paths.socket)).toBe(false);
    expect(await readFile(paths.log, 'utf8')).toContain('no client for 300 ms; exiting');
  });

  it('exits after the grace period when no client ever comes', async () => {
    const { paths, daemon } = await harness.startDaemon({ graceMs: 300 });
    await daemon.done;
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.pid)).toBe(false);
  });

  it('stays alive for a client that reconnects within the grace period', async () => {
    const { paths, daemon } = await harness.startDaemon({ graceMs: 300 });
    let exited = false;
    void daemon.done.then(() => (exited = true));
    const first = await harness.openRaw(paths.socket);
    first.ws.close();
    await first.closed;
    await sleep(100);
    const second = await harness.openRaw(paths.socket);
    await sleep(600); // twice the grace period after the first client left

    expect(exited).toBe(false);
    expect(await isSocketLive(paths.socket)).toBe(true);
    expect(await second.hello(await harness.makeDir())).toMatchObject({ t: 'welcome' });

    second.ws.close();
    await daemon.done;
    expect(existsSync(paths.socket)).toBe(false);
  });
});

describe('stop', () => {
  it('closes its clients and leaves no timer behind (regression: a client closing during stop re-armed the idle exit)', async () => {
    const { paths, daemon } = await harness.startDaemon({ graceMs: 300 });
    const client = await harness.openRaw(paths.socket);
    expect(await client.hello(await harness.makeDir())).toMatchObject({ t: 'welcome' });

    await daemon.stop();

    expect((await client.closed).code).toBe(1001);
    expect(existsSync(paths.socket)).toBe(false);
    await sleep(600); // twice the grace period: an idle timer armed by then has fired
    const lines = (await readFile(paths.log, 'utf8')).trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/\] stopped$/);
  });
});

describe('heartbeat', () => {
  it('drops a client that never answers pings and keeps one that does', async () => {
    const { paths, daemon } = await harness.startDaemon({ heartbeatMs: 200 });
    const deaf = await harness.openRaw(paths.socket, { autoPong: false });
    const alive = await harness.openRaw(paths.socket);
    const root = await harness.makeDir();
    expect(await deaf.hello(root)).toMatchObject({ t: 'welcome' });
    expect(await alive.hello(root)).toMatchObject({ t: 'welcome' });

    const closed = await Promise.race([deaf.closed, sleep(3000).then(() => null)]);

    expect(closed, 'the deaf client is dropped within 3 s').not.toBeNull();
    expect(closed!.code).toBe(1006); // terminated, no close frame
    await sleep(600); // several more heartbeats
    expect(alive.isOpen).toBe(true);
    await alive.send({ t: 'scan', req: 5 });
    expect(await alive.next()).toMatchObject({ t: 'scan-page', req: 5, done: true });
    expect(daemon.clientCount).toBe(1);
    expect(await readFile(paths.log, 'utf8')).toContain('stopped answering pings');
  });
});

describe('root entries', () => {
  it('keeps an entry written by one client visible to another client of the same root', async () => {
    const { paths } = await harness.startDaemon();
    const [root, local] = [await harness.makeDir(), await harness.makeDir()];
    const [writer, reader] = await Promise.all([harness.connect(paths.socket, root), harness.connect(paths.socket, root)]);
    await putFile(local, 'shared.txt', 'both see this\n', 0o640);

    await writer.apply(await getOpFor(local, 'shared.txt'), folderSource(local));
    const seen = (await reader.scan(false)).get('shared.txt');

    expect(seen).toMatchObject({ kind: 'file', size: 14, mode: 0o640 });
    expect(seen).toEqual(await getEntryAt(root, 'shared.txt'));
  });
});

describe('idle exit', () => {
  it('a client that connects while the daemon is still starting keeps it alive past the grace period', async () => {
    // The socket listens before start() has finished (the start lock and chmod come after): a
    // client polling for the socket gets in then, and the grace timer armed at the end of start
    // must not count it out.
    const home = await harness.makeDir();
    const paths = getHomeStatePaths(home);
    let client: RawClient | null = null;
    let polling = true;
    const early = (async () => {
      while (polling && !existsSync(paths.socket)) await new Promise((resolve) => setImmediate(resolve));
      client = await harness.openRaw(paths.socket);
    })();
    const { daemon } = await harness.startDaemon({ graceMs: 150, home });
    polling = false;
    await early;
    await sleep(600);
    expect(client!.isOpen, 'the early client is still connected').toBe(true);
    expect(daemon.clientCount).toBe(1);
  });
});
