/**
 * Walks a root into a Snapshot. Used by the client for the project and by the daemon for a
 * destination, so both sides see the same things in the same way.
 */
import { opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, Snapshot } from './entry.js';
import { hasErrno } from './errors.js';
import type { IgnoreRules } from './ignore-rules.js';
import { getEntry } from './stat-entry.js';

/** lstat calls in flight at once: enough to hide disk latency, few enough not to exhaust fds. */
const CONCURRENCY = 32;

async function listFolder(absolute: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const dirent of await opendir(absolute)) names.push(dirent.name);
  } catch (error) {
    if (hasErrno(error, 'ENOENT', 'ENOTDIR')) return names;
    throw error;
  }
  return names;
}

/** Scans `root`, or only the folder `under` (relative to root) when given; paths stay relative to root. */
export async function scanTree(root: string, rules: IgnoreRules, under = ''): Promise<Snapshot> {
  const snapshot: Snapshot = new Map();
  const folders: string[] = [under];
  while (folders.length > 0) {
    const batch = folders.splice(0, CONCURRENCY);
    const listings = await Promise.all(batch.map(async (folder) => ({ folder, names: await listFolder(join(root, folder)) })));
    const candidates = listings.flatMap(({ folder, names }) => names.map((name) => (folder ? `${folder}/${name}` : name)));
    for (let i = 0; i < candidates.length; i += CONCURRENCY) {
      const slice = candidates.slice(i, i + CONCURRENCY);
      const entries = await Promise.all(slice.map((path) => getEntry(join(root, path), path)));
      for (const entry of entries) {
        if (entry === null || rules.isIgnored(entry.path, entry.kind === 'dir')) continue;
        snapshot.set(entry.path, entry);
        if (entry.kind === 'dir') folders.push(entry.path);
      }
    }
  }
  return snapshot;
}

/** Sorted for stable output and so that parents come before their children. */
export function getSortedEntries(snapshot: Snapshot): Entry[] {
  return [...snapshot.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
