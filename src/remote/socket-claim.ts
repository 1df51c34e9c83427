import { chmod, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { withStartLock } from './start-lock.js';
import type { StatePaths } from '../shared/state-dir.js';

/** True when something accepts connections on the Unix socket. */
export function isSocketLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Listens on the daemon socket unless a live daemon already does. A socket file nobody answers on is
 * a leftover of a daemon that was killed, and is removed first.
 */
export async function claimSocket(server: Server, paths: StatePaths): Promise<void> {
  await withStartLock(paths.lock, async () => {
    if (await isSocketLive(paths.socket)) {
      throw new SicksyncError(ErrorCode.DAEMON_START, `a daemon already listens on ${paths.socket}`);
    }
    // Leftovers of a daemon that was killed: its socket, and its pid file, which would otherwise
    // name a dead process until the new daemon writes its own.
    for (const leftover of [paths.socket, paths.pid]) {
      await unlink(leftover).catch((error: unknown) => {
        if (!hasErrno(error, 'ENOENT')) throw error;
      });
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(paths.socket, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(paths.socket, 0o600);
  });
}
