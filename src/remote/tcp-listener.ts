/**
 * The opt-in TCP transport: a ws:// or wss:// listener for hosts where SSH is not wanted, guarded by
 * a random token that only the daemon's user can read. It binds where the URL says; the documented
 * default is loopback. The SSH transport needs none of this.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { join, resolve } from 'node:path';
import type { WebSocketServer } from 'ws';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import type { StatePaths } from '../shared/state-dir.js';

export interface ListenOptions {
  /** `ws://host:port` or `wss://host:port`. */
  url: string;
  tokenFile: string;
  cert?: string;
  key?: string;
}

/** `7400` alone means ws://127.0.0.1:7400: loopback unless told otherwise. */
export function normalizeListenUrl(value: string): URL {
  const url = new URL(/^\d+$/.test(value) ? `ws://127.0.0.1:${value}` : value);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new SicksyncError(ErrorCode.USAGE, `--listen takes ws://host:port or wss://host:port, not ${value}`);
  }
  if (!url.port) throw new SicksyncError(ErrorCode.USAGE, `--listen ${value}: name a port`);
  return url;
}

/** The daemon's token: made once (256 random bits), kept in a file only its user can read. */
export function readOrCreateToken(tokenFile: string): string {
  try {
    const token = readFileSync(tokenFile, 'utf8').trim();
    if (token.length >= 32) return token;
  } catch (error) {
    if (!hasErrno(error, 'ENOENT')) throw error;
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Constant-time comparison: digests make both sides the same length whatever was sent. */
export function isTokenValid(presented: string | undefined, token: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return presented !== undefined && timingSafeEqual(digest(presented), digest(token));
}

function getBearer(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
}

export async function startTcpListener(options: ListenOptions, wss: WebSocketServer, log: (line: string) => void): Promise<Server> {
  const url = normalizeListenUrl(options.url);
  const token = readOrCreateToken(options.tokenFile);
  let server: Server;
  if (url.protocol === 'wss:') {
    if (!options.cert || !options.key) throw new SicksyncError(ErrorCode.USAGE, 'wss:// needs --cert and --key (PEM files)');
    server = createHttpsServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) });
  } else {
    server = createHttpServer();
  }
  server.on('clientError', (error: Error, socket: Duplex) => {
    log(`refused a malformed HTTP request from a TCP client: ${error.message}`);
    socket.destroy();
  });
  // TLS handshake failures (a plain-text client on wss://, a bad certificate) end that socket only.
  server.on('tlsClientError', (error: Error, socket: Duplex) => {
    log(`refused a TCP client's TLS handshake: ${error.message}`);
    socket.destroy();
  });
  server.on('request', (_request, response) => response.writeHead(426).end('sicksync daemon: WebSocket only\n'));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (!isTokenValid(getBearer(request), token)) {
      log(`refused a TCP client from ${request.socket.remoteAddress ?? 'unknown'}: wrong or missing token`);
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  const host = url.hostname.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(url.port), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log(`listening on ${url.protocol}//${url.host} (token in ${options.tokenFile})`);
  return server;
}

/** The TCP listener settings from command-line flags (both entries parse them). */
export function getListenOptions(
  flags: { listen?: string | undefined; tokenFile?: string | undefined; cert?: string | undefined; key?: string | undefined },
  paths: StatePaths,
): ListenOptions | undefined {
  if (!flags.listen) return undefined;
  const listen: ListenOptions = {
    url: normalizeListenUrl(flags.listen).href.replace(/\/$/, ''),
    tokenFile: resolve(flags.tokenFile ?? join(paths.dir, 'token')),
  };
  if (flags.cert) listen.cert = resolve(flags.cert);
  if (flags.key) listen.key = resolve(flags.key);
  return listen;
}
