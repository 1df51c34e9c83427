import { posix } from 'node:path';

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/**
 * `name.sicksync-conflict-YYYYMMDD-HHMMSS-<host>.ext`: the losing version of a conflict, kept next to
 * the winner, sorted by name with it, and still opened by the right program thanks to its extension.
 */
export function getConflictPath(path: string, host: string, date: Date): string {
  const dir = posix.dirname(path);
  const base = posix.basename(path);
  const dot = base.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  const stamp =
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
  const safeHost = host.replace(/[^A-Za-z0-9_-]/g, '_');
  const name = `${stem}.sicksync-conflict-${stamp}-${safeHost}${ext}`;
  return dir === '.' ? name : `${dir}/${name}`;
}
