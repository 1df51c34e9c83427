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

export async function connectLocalDaemon(description: string, hello: HelloOptions): Promise<DaemonConnection> {
  const paths = getStatePaths();
  try {
    return await openOnSocket(paths.socket, description, hello);
  } catch (error) {
    if (!hasErrno(error, 'ENOENT', 'ECONNREFUSED')) throw error;
  }
  await startDaemon({ paths, graceMs: getIdleGraceMs(), heartbeatMs: getHeartbeatMs() }, BIN_SCRIPT);
  return openOnSocket(paths.socket, description, hello);
}
