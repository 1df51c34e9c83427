/**
 * Linux gives each user a number of inotify watches, and a watcher takes one per folder. A project
 * with more folders than that gets the rest polled (root-watcher.ts), which is slower: say so, with
 * the line that raises the limit.
 */
import { readFileSync } from 'node:fs';
import { POLL_MS } from '../shared/root-watcher.js';

/**
 * The system-wide limit, and the one of the user namespace the process runs in (a container's),
 * which can only be lower.
 */
export const INOTIFY_LIMIT_FILES = ['/proc/sys/fs/inotify/max_user_watches', '/proc/sys/user/max_inotify_watches'];

function readLimit(files: readonly string[]): number | null {
  let limit: number | null = null;
  for (const file of files) {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(value) && value >= 0 && (limit === null || value < limit)) limit = value;
    } catch {
      // not Linux, or not this kernel's file
    }
  }
  return limit;
}

/**
 * `folders` holds the project's folders (the root not counted), `polled` how many of them got no
 * watch. null when everything is watched and fits (or there is no inotify limit to read).
 */
export function getWatchLimitWarning(folders: number, polled = 0, limitFiles = INOTIFY_LIMIT_FILES): string | null {
  const limit = readLimit(limitFiles);
  const watched = folders + 1; // the root is watched too
  if (polled === 0 && (limit === null || watched <= limit)) return null;
  let wanted = 524_288;
  while (wanted < watched * 2) wanted *= 2;
  const told =
    polled > 0
      ? `${polled} of this project's ${watched} folders got no inotify watch (the user's watches are used up` +
        (limit === null ? ')' : `: the limit is ${limit}, fs.inotify.max_user_watches)`)
      : `this project has ${watched} folders to watch, more than the ${limit} inotify watches the system allows a user (fs.inotify.max_user_watches)`;
  return (
    `${told}: folders without a watch are polled every ${POLL_MS / 1000} s instead, so changes there take that long to be seen. ` +
    `Raise the limit with: sudo sysctl fs.inotify.max_user_watches=${wanted} (and put that setting in /etc/sysctl.d/ to keep it)`
  );
}
