/**
 * A short lock around "is a daemon there? if not, take the socket", so two daemons started at the
 * same moment end as one. mkdir is atomic on every local filesystem; a lock older than STALE_MS was
 * left by a process that died inside the critical section (which lasts milliseconds) and is broken.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';

const STALE_MS = 10_000;
const WAIT_MS = 20_000;

export async function withStartLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await mkdir(lockPath, { mode: 0o700 });
      break;
    } catch (error) {
      if (!hasErrno(error, 'EEXIST')) throw error;
    }
    const age = await stat(lockPath).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_MS) {
      await rmdir(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new SicksyncError(
        ErrorCode.DAEMON_START,
        `the daemon start lock ${lockPath} has been held for ${WAIT_MS / 1000} s; if no sicksync process runs, remove it`,
      );
    }
    await sleep(25 + Math.random() * 25);
  }
  try {
    return await work();
  } finally {
    await rmdir(lockPath).catch(() => undefined);
  }
}
