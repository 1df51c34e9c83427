/**
 * Walks a root into a Snapshot. Used by the client for the project and by the daemon for a
 * destination, so both sides see the same things in the same way.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Entry, Snapshot } from './entry.js';
import { hasErrno } from './errors.js';
import type { IgnoreRules } from './ignore-rules.js';
import { getEntry } from './stat-entry.js';

/** Entries read between two yields, so a daemon scanning a large tree still answers its other clients. */
const YIELD_EVERY = 2000;

function listFolder(absolute: string): string[] {
  try {
    return readdirSync(absolute);
  } catch (error) {
    if (hasErrno(error, 'ENOENT', 'ENOTDIR', 'EACCES')) return [];
    throw error;
  }
}

/**
 * Scans `root`, or only the folder `under` (relative to root) when given; paths stay relative to root.
 * `onIgnored` sees what the rules leave out (the daemon sweeps stale temporary files from it).
 */
export async function scanTree(
  root: string,
  rules: IgnoreRules,
  under = '',
  onIgnored?: (path: string, entry: Entry) => void,
): Promise<Snapshot> {
  const snapshot: Snapshot = new Map();
  const folders: string[] = [under];
  let sinceYield = 0;
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const name of listFolder(join(root, folder))) {
      const path = folder ? `${folder}/${name}` : name;
      const entry = getEntry(join(root, path), path);
      if (entry === null) continue;
      if (rules.isIgnored(path, entry.kind === 'dir')) {
        onIgnored?.(path, entry);
        continue;
      }
      snapshot.set(path, entry);
      if (entry.kind === 'dir') folders.push(path);
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
  }
  return snapshot;
}

/** Sorted for stable output and so that parents come before their children. */
export function getSortedEntries(snapshot: Snapshot): Entry[] {
  return [...snapshot.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
