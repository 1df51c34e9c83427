import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DaemonConnection } from '../../src/client/endpoint/daemon-connection.js';
import { connectTcpDaemon } from '../../src/client/endpoint/tcp-daemon.js';
import { Daemon } from '../../src/remote/daemon.js';
import { isTokenValid, normalizeListenUrl } from '../../src/remote/tcp-listener.js';
import { getOpFor, listTree, putFile, useDaemonHarness, folderSource } from '../helpers/daemon-harness.js';

const harness = useDaemonHarness();
const started: Daemon[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((daemon) => daemon.stop()));
});

function getFreePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startTcpDaemon(tls?: { cert: string; key: string }) {
  const { home, paths } = await harness.makeHome();
  const port = await getFreePort();
  const url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}`;
  const tokenFile = join(paths.dir, 'token');
  const daemon = new Daemon({ paths, graceMs: 60_000, heartbeatMs: 60_000, listen: { url, tokenFile, ...tls } });
  await daemon.start();
  started.push(daemon);
  return { home, url, tokenFile };
}

describe('listen URLs', () => {
  it('takes a bare port as loopback, and refuses other schemes or a missing port', () => {
    expect(normalizeListenUrl('7400').href).toBe('ws://127.0.0.1:7400/');
    expect(normalizeListenUrl('wss://0.0.0.0:7400').protocol).toBe('wss:');
    expect(() => normalizeListenUrl('http://127.0.0.1:7400')).toThrow(/ws:\/\/host:port/);
    expect(() => normalizeListenUrl('ws://127.0.0.1')).toThrow(/name a port/);
  });

  it('compares tokens whatever their length', () => {
    expect(isTokenValid('abc', 'abc')).toBe(true);
    expect(isTokenValid('abd', 'abc')).toBe(false);
    expect(isTokenValid('a', 'abc')).toBe(false);
    expect(isTokenValid(undefined, 'abc')).toBe(false);
  });
});

describe('the TCP transport', () => {
  it('keeps its token in a file only its user can read', async () => {
    const { tokenFile } = await startTcpDaemon();
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(tokenFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('syncs with the right token', async () => {
    const { url, tokenFile } = await startTcpDaemon();
    const local = await harness.makeDir('local');
    const dest = await harness.makeDir('dest');
    await putFile(local, 'a.txt', 'hello over tcp');
    const connection = await connectTcpDaemon(
      { id: 'tcp-dest', location: dest, mode: 'push' },
      { url, tokenFile },
      { root: dest, excludes: [] },
    );
    await connection.apply(await getOpFor(local, 'a.txt'), folderSource(local));
    await connection.close();
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('hello over tcp');
  });

  it('speaks wss:// with a certificate, checked against the configured CA', async () => {
    const certs = await harness.makeDir('certs');
    const cert = join(certs, 'cert.pem');
    const key = join(certs, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const { url, tokenFile } = await startTcpDaemon({ cert, key });
    const dest = await harness.makeDir('dest');
    const spec = { id: 'wss-dest', location: dest, mode: 'push' as const };
    const connection = await connectTcpDaemon(spec, { url, tokenFile, ca: cert }, { root: dest, excludes: [] });
    await connection.close();
    // Without the CA the self-signed certificate is refused.
    await expect(connectTcpDaemon(spec, { url, tokenFile }, { root: dest, excludes: [] })).rejects.toThrow(/self-signed|certificate/);
  });

  it('refuses a wrong or missing token before any frame, and writes nothing', async () => {
    const { url, tokenFile } = await startTcpDaemon();
    const dest = await harness.makeDir('dest');
    const wrong = await harness.makeDir('wrong');
    await putFile(wrong, 'token', 'f'.repeat(64));
    await expect(
      connectTcpDaemon(
        { id: 'tcp-dest', location: dest, mode: 'push' },
        { url, tokenFile: join(wrong, 'token') },
        { root: join(dest, 'never'), excludes: [] },
      ),
    ).rejects.toThrow(/refused the token/);
    await expect(DaemonConnection.open(url, 'no token', { root: join(dest, 'never'), excludes: [] })).rejects.toThrow(/401/);
    expect(await listTree(dest)).toEqual([]);
    // The daemon is still there for a client with the right token.
    const good = await connectTcpDaemon({ id: 'tcp-dest', location: dest, mode: 'push' }, { url, tokenFile }, { root: dest, excludes: [] });
    await good.close();
  });

  it('never upgrades a request whose Authorization is not the bearer token', async () => {
    const { url } = await startTcpDaemon();
    const ws = new WebSocket(url, { headers: { Authorization: 'Basic xyz' } });
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(-1));
    });
    ws.terminate();
    expect(status).toBe(401);
  });
});
