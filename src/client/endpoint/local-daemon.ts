/**
 * Local destinations go through the same daemon that remote hosts run, started here on demand.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { ErrorCode, SicksyncError, hasErrno, isErrorCode } from '../../shared/errors.js';
import { READY_PREFIX } from '../../shared/remote-contract.js';
import { getStatePaths } from '../../shared/state-dir.js';
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
    await startLocalDaemon();
  }
}

/**
 * `sicksync remote start-daemon` in a child, as over SSH: it returns once the daemon listens (or
 * one already did), and its ready line says so. Its own errors keep their code and message.
 */
async function startLocalDaemon(): Promise<void> {
  const args = [BIN_SCRIPT, 'remote', 'start-daemon', '--grace', String(getIdleGraceMs())];
  const env = { ...process.env, SICKSYNC_HEARTBEAT_MS: String(getHeartbeatMs()) };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { env }, (error, out, err) => {
      const exit = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
      resolve({ code: exit, stdout: out, stderr: err });
    });
  });
  if (code === 0 && stdout.split('\n').some((line) => line.startsWith(READY_PREFIX))) return;
  // "sicksync: <message> (SICKSYNC_E_...)", as runRemoteEntry prints it.
  const last = stderr.trim().split('\n').at(-1) ?? '';
  const match = /^sicksync: (.*) \((SICKSYNC_E_[A-Z_]+)\)$/s.exec(last);
  if (match && isErrorCode(match[2]!)) throw new SicksyncError(match[2], match[1]!);
  throw new SicksyncError(
    ErrorCode.DAEMON_START,
    `could not start the local daemon (exit ${code}): ${stderr.trim() || stdout.trim() || 'no output'}`,
  );
}
