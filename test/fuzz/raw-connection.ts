/**
 * One fresh connection to the daemon, on its Unix socket or its TCP listener: a hand-written
 * WebSocket upgrade, then bytes exactly as given. Nothing here parses what the daemon sends back
 * beyond the upgrade's status line, so no client library can tidy up the bytes on the way out.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { formatUpgradeRequest } from '../helpers/raw-websocket.js';

export type RawTarget = { kind: 'unix'; socket: string } | { kind: 'tcp'; port: number; token: string };

/** The Authorization line of a TCP upgrade, honest or not. */
export type TokenVariant = 'valid' | 'wrong' | 'missing' | 'empty' | 'valid-plus-garbage' | 'not-bearer' | 'huge';

export interface RawOutcome {
  /** The upgrade's status line, or '' when none arrived. */
  status: string;
  /**
   * Who ended the connection: the daemon (a close frame, or the socket closed under us), the
   * client after its own EOF, or the client after a timeout.
   */
  closedBy: 'daemon' | 'client-eof' | 'timeout';
  /** The status code of the daemon's close frame, when it sent one. */
  closeCode: number | null;
  /** Bytes received after the upgrade. */
  received: number;
}

function getAuthorization(variant: TokenVariant, token: string): string[] {
  switch (variant) {
    case 'valid':
      return [`Authorization: Bearer ${token}`];
    case 'wrong':
      return [`Authorization: Bearer ${randomBytes(32).toString('hex')}`];
    case 'missing':
      return [];
    case 'empty':
      return ['Authorization: Bearer '];
    case 'valid-plus-garbage':
      return [`Authorization: Bearer ${token}x`];
    case 'not-bearer':
      return [`Authorization: Basic ${Buffer.from(`u:${token}`).toString('base64')}`];
    case 'huge':
      return [`Authorization: Bearer ${'t'.repeat(70_000)}`];
  }
}

function getUpgrade(target: RawTarget, variant: TokenVariant): string {
  return formatUpgradeRequest(target.kind === 'tcp' ? getAuthorization(variant, target.token) : []);
}

/**
 * The close frame among a server's frames (unmasked, RFC 6455 section 5.2), once it has arrived
 * whole: its status code, or 1005 when it has none. Null while there is none yet.
 */
function findCloseCode(data: Buffer): number | null {
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = data[at]! & 0x0f;
    let length = data[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > data.length) return null;
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > data.length) return null;
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > data.length) return null;
    if (opcode === 0x8) return length >= 2 ? data.readUInt16BE(start) : 1005;
    at = start + length;
  }
  return null;
}

/**
 * Upgrades, writes `chunks` (one write each), and resolves when the connection is closed. With
 * `endAfterSend` the client then ends its side (EOF); otherwise it waits for the daemon to close.
 * A refused upgrade resolves too: its status line tells.
 */
export function runRawConnection(
  target: RawTarget,
  chunks: readonly Buffer[],
  { endAfterSend, timeoutMs, token = 'valid' }: { endAfterSend: boolean; timeoutMs: number; token?: TokenVariant },
): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const socket: Socket = target.kind === 'unix' ? connect(target.socket) : connect(target.port, '127.0.0.1');
    let head = Buffer.alloc(0);
    let status = '';
    let received = Buffer.alloc(0);
    let closeCode: number | null = null;
    let endedByUs = false;
    const timer = setTimeout(() => {
      socket.destroy();
      finish('timeout');
    }, timeoutMs);
    const finish = (closedBy: RawOutcome['closedBy']): void => {
      clearTimeout(timer);
      resolve({ status, closedBy: closeCode === null ? closedBy : 'daemon', closeCode, received: received.length });
    };
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after bad bytes is a fine way to be dropped; a refused connect means no daemon.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('connect', () => socket.write(getUpgrade(target, token)));
    const sendAll = async (): Promise<void> => {
      for (const chunk of chunks) {
        if (socket.destroyed || socket.writableEnded) return;
        socket.write(chunk);
        // A turn of the event loop between writes, so they tend to arrive as separate reads.
        await new Promise((next) => setImmediate(next));
      }
      if (endAfterSend && !socket.destroyed && !socket.writableEnded) {
        endedByUs = true;
        socket.end();
      }
    };
    socket.on('data', (data: Buffer) => {
      if (status) {
        received = Buffer.concat([received, data]);
        // The daemon said goodbye: a client answers by going away, which is what ends a real session.
        if (closeCode === null && (closeCode = findCloseCode(received)) !== null) socket.end();
        return;
      }
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      received = head.subarray(end + 4);
      closeCode = findCloseCode(received);
      if (status.startsWith('HTTP/1.1 101') && closeCode === null) void sendAll();
      else socket.end();
    });
    socket.on('close', () => finish(endedByUs ? 'client-eof' : 'daemon'));
  });
}
