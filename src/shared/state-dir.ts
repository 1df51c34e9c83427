/**
 * The per-user folder of the daemon: its socket, start lock, pid file and log, all in one place
 * (mode 0700, so the socket is reachable by its user only).
 */
import { mkdirSync, chmodSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StatePaths {
  dir: string;
  socket: string;
  lock: string;
  pid: string;
  log: string;
}

export function getStatePaths(home: string = homedir()): StatePaths {
  return getStatePathsIn(process.env.SICKSYNC_STATE_DIR ?? join(home, '.sicksync'));
}

/** The files of a state folder `dir`. */
export function getStatePathsIn(dir: string): StatePaths {
  return {
    dir,
    socket: join(dir, 'daemon.sock'),
    lock: join(dir, 'daemon.lock'),
    pid: join(dir, 'daemon.pid'),
    log: join(dir, 'daemon.log'),
  };
}

export function ensureStateDir(paths: StatePaths): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by umask and ignored when the folder exists: make sure.
  chmodSync(paths.dir, 0o700);
}

/** The last lines of the daemon's log, quoted when it fails to start. */
export function getLogTail(paths: StatePaths, lines = 5): string {
  try {
    return readFileSync(paths.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
