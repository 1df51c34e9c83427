/**
 * Local destinations go through the same daemon that remote hosts run, started here on demand.
 */
import { connect } from 'node:net';
import { startDaemon } from '../../remote/commands.js';
import { getStatePaths } from '../../remote/state-dir.js';
import { hasErrno } from '../../shared/errors.js';
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
const ATTEMPTS = 3;

export async function connectLocalDaemon(description: string, hello: HelloOptions): Promise<DaemonConnection> {
  const paths = getStatePaths();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await openOnSocket(paths.socket, description, hello);
    } catch (error) {
      if (!hasErrno(error, ...NO_DAEMON) || attempt === ATTEMPTS) throw error;
    }
    await startDaemon({ paths, graceMs: getIdleGraceMs(), heartbeatMs: getHeartbeatMs() }, BIN_SCRIPT);
  }
}
