/**
 * `sicksync remote bridge`: joins its stdin and stdout to the daemon's Unix socket. The client runs
 * it in an SSH exec channel on hosts whose sshd refuses to forward to a socket (DESIGN section 4):
 * the same bytes, WebSocket and all, go through the channel instead of a forwarded one.
 */
import { connect, type Socket } from 'node:net';
import { ExitCode } from '../shared/errors.js';
import { NO_DAEMON_EXIT } from '../shared/remote-contract.js';
import type { StatePaths } from '../shared/state-dir.js';

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export async function runBridge(paths: StatePaths): Promise<number> {
  let socket: Socket;
  try {
    socket = await openSocket(paths.socket);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    process.stderr.write(`sicksync: no daemon answers on ${paths.socket} (${code})\n`);
    return NO_DAEMON_EXIT;
  }
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      socket.destroy();
      // stdout may still hold the daemon's last bytes: exit once they are written.
      process.stdout.end(() => resolve(code));
    };
    socket.on('error', () => finish(ExitCode.FAILURE));
    socket.on('close', () => finish(ExitCode.OK));
    // The client closed the channel: sshd closes our stdin. Half-close, so the daemon sees it leave.
    process.stdin.on('end', () => socket.end());
    process.stdin.on('error', () => finish(ExitCode.FAILURE));
    process.stdout.on('error', () => finish(ExitCode.FAILURE));
    process.stdin.pipe(socket, { end: false });
    socket.pipe(process.stdout, { end: false });
  });
}
