/**
 * Linux gives each user a number of inotify watches (fs.inotify.max_user_watches), and a watcher
 * takes one per folder. A project with more folders than that is watched only in part, and the rest
 * would change unseen: say so before relying on it, with the line that raises the limit.
 */
import { readFileSync } from 'node:fs';

export const INOTIFY_WATCHES_FILE = '/proc/sys/fs/inotify/max_user_watches';

/** null when the folders fit (or there is no inotify limit to read: another OS, a container). */
export function getWatchLimitWarning(folders: number, limitFile = INOTIFY_WATCHES_FILE): string | null {
  let limit: number;
  try {
    limit = Number(readFileSync(limitFile, 'utf8').trim());
  } catch {
    return null;
  }
  // The root is watched too; other programs of the user (an editor) hold watches of their own.
  if (!Number.isFinite(limit) || folders + 1 <= limit) return null;
  let wanted = 524_288;
  while (wanted < (folders + 1) * 2) wanted *= 2;
  return (
    `this project has ${folders + 1} folders to watch, more than the ${limit} inotify watches the system allows a user ` +
    '(fs.inotify.max_user_watches): changes in the folders beyond it are not seen live, only at the next start. ' +
    `Raise the limit with: sudo sysctl fs.inotify.max_user_watches=${wanted} (and put that setting in /etc/sysctl.d/ to keep it)`
  );
}
