/**
 * Local destinations go through the same daemon that remote hosts run, started here on demand.
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../../remote/commands.js';
import { getStatePaths } from '../../remote/state-dir.js';
import { hasErrno } from '../../shared/errors.js';
import { getHeartbeatMs, getIdleGraceMs } from '../../shared/timing.js';
import { DaemonConnection, type HelloOptions } from './daemon-connection.js';

/** The program's entry, so the daemon runs the very code of this client. */
const BIN_SCRIPT = fileURLToPath(new URL('../../../bin/sicksync.js', import.meta.url));

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
