/**
 * Local destinations go through the same daemon that remote hosts run, started here on demand.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SicksyncError, hasErrno } from '../../shared/errors.js';
import { ensureStateDir, getLogTail, getStatePaths, type StatePaths } from '../../shared/state-dir.js';
import { getHeartbeatMs, getIdleGraceMs } from '../../shared/timing.js';
import { BIN_SCRIPT } from '../bin-path.js';
import { DaemonConnection, type HelloOptions } from './daemon-connection.js';

function openOnSocket(socketPath: string, description: string, hello: HelloOptions): Promise<DaemonConnection> {
  // createConnection rather than a ws+unix: URL, which would percent-encode unusual folder names.
  return DaemonConnection.open('ws://sicksync-daemon/', description, hello, {
    createConnection: () => connect(socketPath),
  });
}

/**
 * No daemon (ENOENT, ECONNREFUSED), or one that was exiting after its grace period just as we
 * came (ECONNRESET, EPIPE before the handshake): start one and try again.
 */
const NO_DAEMON = ['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE'] as const;
const START_TIMEOUT_MS = 15_000;

export async function connectLocalDaemon(description: string, hello: HelloOptions): Promise<DaemonConnection> {
  const paths = getStatePaths();
  let deadline: number | null = null;
  for (;;) {
    try {
      return await openOnSocket(paths.socket, description, hello);
    } catch (error) {
      if (!hasErrno(error, ...NO_DAEMON)) throw error;
    }
    if (deadline === null) {
      await startLocalDaemon(paths);
      deadline = Date.now() + START_TIMEOUT_MS;
    } else if (Date.now() > deadline) {
      throw new SicksyncError(
        ErrorCode.DAEMON_START,
        `the daemon did not start listening on ${paths.socket} within ${START_TIMEOUT_MS / 1000} s. Its log (${paths.log}) ends with:\n${getLogTail(paths)}`,
      );
    } else {
      await sleep(25);
    }
  }
}

/**
 * Runs `sicksync remote daemon --detach`, which returns once its detached child is on its way;
 * the connection attempts above wait for it to listen. Two clients starting one at the same moment
 * are fine: the daemon that loses the socket's lock exits, the other serves both.
 */
async function startLocalDaemon(paths: StatePaths): Promise<void> {
  ensureStateDir(paths);
  const env = { ...process.env, SICKSYNC_DAEMON_GRACE_MS: String(getIdleGraceMs()), SICKSYNC_HEARTBEAT_MS: String(getHeartbeatMs()) };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN_SCRIPT, 'remote', 'daemon', '--detach'], { stdio: 'ignore', env, cwd: paths.dir });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}
