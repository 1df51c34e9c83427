/**
 * Defect 1 of the hardening issue: bytes that are not a valid WebSocket stream (below the
 * protocol's own frames) end that one connection and nothing else. Each case is written raw on a
 * real socket to a real daemon, while an honest client stays connected and keeps syncing.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectTcpDaemon } from '../../src/client/endpoint/tcp-daemon.js';
import { Daemon } from '../../src/remote/daemon.js';
import type { Op } from '../../src/shared/plan/types.js';
import { getOpFor, listTree, putFile, useDaemonHarness, waitUntil, folderSource } from '../helpers/daemon-harness.js';
import { encodeRawFrame, formatUpgradeRequest } from '../helpers/raw-websocket.js';

const harness = useDaemonHarness();

/** A masked frame, as a client must send it (RFC 6455 section 5.2), from its first byte. */
function maskedFrame(firstByte: number, payload: Buffer, declaredLength?: bigint): Buffer {
  const spec = { fin: (firstByte & 0x80) !== 0, rsv: (firstByte >> 4) & 7, opcode: firstByte & 0x0f, payload };
  return encodeRawFrame(declaredLength === undefined ? spec : { ...spec, declaredLength }, () => randomBytes(4));
}

function getUpgrade(token?: string): string {
  return formatUpgradeRequest(token ? [`Authorization: Bearer ${token}`] : []);
}

type Target = string | { port: number; token: string };

/** Sends `bytes` on a fresh connection (after a valid upgrade when asked) and resolves once the daemon has closed it. */
function sendRaw(target: Target, bytes: Buffer | string, { upgrade }: { upgrade: boolean }): Promise<string> {
  const UPGRADE = getUpgrade(typeof target === 'string' ? undefined : target.token);
  return new Promise((resolve, reject) => {
    const socket: Socket = typeof target === 'string' ? connect(target) : connect(target.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let upgraded = !upgrade;
    socket.on('error', () => undefined); // a reset is one of the fine outcomes
    socket.on('connect', () => socket.write(upgrade ? UPGRADE : bytes));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded && received.includes('\r\n\r\n')) {
        upgraded = true;
        if (!received.toString('latin1').startsWith('HTTP/1.1 101')) reject(new Error(`upgrade refused: ${received.toString('latin1')}`));
        socket.write(bytes);
      }
    });
    socket.on('close', () => resolve(received.toString('latin1')));
    setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `the daemon kept a connection open after a malformed frame (received ${JSON.stringify(received.toString('latin1').slice(0, 200))})`,
        ),
      );
    }, 5000).unref();
  });
}

const BAD_FRAMES: Array<[string, Buffer]> = [
  ['an unmasked frame', Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63])],
  ['a reserved opcode', maskedFrame(0x83, Buffer.from('abc'))],
  ['RSV1 without an extension', maskedFrame(0xc2, Buffer.from('abc'))],
  ['RSV2 set', maskedFrame(0xa2, Buffer.from('abc'))],
  ['RSV3 set', maskedFrame(0x92, Buffer.from('abc'))],
  ['invalid UTF-8 in a text frame', maskedFrame(0x81, Buffer.from([0xc3, 0x28, 0xff, 0xfe]))],
  ['a frame declared at 65 MiB', maskedFrame(0x82, Buffer.alloc(16), 65n * 1024n * 1024n)],
  ['a frame declared at 2^63 bytes', maskedFrame(0x82, Buffer.alloc(16), 2n ** 63n - 1n)],
  ['a ping longer than 125 bytes', maskedFrame(0x89, Buffer.alloc(200))],
  ['a fragmented ping', maskedFrame(0x09, Buffer.from('x'))],
  ['a continuation with nothing to continue', maskedFrame(0x80, Buffer.from('abc'))],
  ['a new message inside a fragmented one', Buffer.concat([maskedFrame(0x02, Buffer.from('a')), maskedFrame(0x82, Buffer.from('b'))])],
  ['a close frame with an invalid code', maskedFrame(0x88, Buffer.from([0x03, 0xe7]))],
  ['a close frame of one byte', maskedFrame(0x88, Buffer.from([0x03]))],
];

const BAD_HANDSHAKES: Array<[string, string]> = [
  ['bytes that are not HTTP', '\u0000\u0001\u0002 garbage \r\n\r\n'],
  [
    'an upgrade without a key',
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
  ],
  [
    'an upgrade of another version',
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 7\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n',
  ],
  ['a header line without a colon', 'GET / HTTP/1.1\r\nthis is not a header\r\n\r\n'],
  ['an enormous header', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`],
];

describe('defect 1: malformed WebSocket input ends one connection, never the daemon', () => {
  it('survives every kind of bad frame and bad handshake while an honest client keeps syncing', async () => {
    const { paths } = await harness.startDaemon();
    const local = await harness.makeDir();
    const remote = join(await harness.makeDir(), 'dest');
    const honest = await harness.connect(paths.socket, remote);

    let round = 0;
    for (const [what, bytes] of BAD_FRAMES) {
      await expect(sendRaw(paths.socket, bytes, { upgrade: true }), what).resolves.toBeTypeOf('string');
      // Each case between two honest writes: the connection made before it still works after it.
      await honest.apply(await writeLocal(local, `after-${round++}.txt`, what), folderSource(local));
    }
    for (const [what, bytes] of BAD_HANDSHAKES) {
      await expect(sendRaw(paths.socket, bytes, { upgrade: false }), what).resolves.toBeTypeOf('string');
      await honest.apply(await writeLocal(local, `after-${round++}.txt`, what), folderSource(local));
    }

    await waitUntil(async () => (await listTree(remote)).length === round, 'every honest write to land');
    expect(await listTree(remote)).toEqual(await listTree(local));
  });
});

describe('defect 1 over the TCP transport: one valid token is not enough to take the daemon down', () => {
  it('ends only the connection that sent a bad frame', async () => {
    const { home, paths } = await harness.makeHome();
    const port = await getFreePort();
    const tokenFile = join(paths.dir, 'token');
    const daemon = new Daemon({ paths, graceMs: 60_000, heartbeatMs: 60_000, listen: { url: `ws://127.0.0.1:${port}`, tokenFile } });
    await daemon.start();
    try {
      const token = (await readFile(tokenFile, 'utf8')).trim();
      const local = await harness.makeDir();
      const remote = join(home, 'dest');
      const honest = await connectTcpDaemon(
        { id: 'tcp-dest', location: remote, mode: 'push' },
        { url: `ws://127.0.0.1:${port}`, tokenFile },
        { root: remote, excludes: [] },
      );
      try {
        let round = 0;
        for (const [what, bytes] of BAD_FRAMES) {
          await expect(sendRaw({ port, token }, bytes, { upgrade: true }), what).resolves.toBeTypeOf('string');
          await honest.apply(await writeLocal(local, `after-${round++}.txt`, what), folderSource(local));
        }
        for (const [what, bytes] of BAD_HANDSHAKES) {
          await expect(sendRaw({ port, token }, bytes, { upgrade: false }), what).resolves.toBeTypeOf('string');
          await honest.apply(await writeLocal(local, `after-${round++}.txt`, what), folderSource(local));
        }
        expect(await listTree(remote)).toEqual(await listTree(local));
      } finally {
        await honest.close();
      }
    } finally {
      await daemon.stop();
    }
  });
});

function getFreePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function writeLocal(root: string, path: string, content: string): Promise<Op> {
  await putFile(root, path, content);
  return getOpFor(root, path);
}
