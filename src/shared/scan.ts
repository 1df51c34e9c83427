/**
 * Walks a root into a Snapshot. Used by the client for the project and by the daemon for a
 * destination, so both sides see the same things in the same way.
 */
import { readdirSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Entry, Snapshot } from './entry.js';
import { ErrorCode, SicksyncError, hasErrno } from './errors.js';
import type { IgnoreRules } from './ignore-rules.js';
import { PATH_MAX } from './paths.js';
import { getEntry } from './stat-entry.js';

/** Entries read between two yields, so a daemon scanning a large tree still answers its other clients. */
const YIELD_EVERY = 250;

/** Something the scan could not take in, named: it is reported, never dropped in silence. */
export type ScanProblem = SicksyncError & { path: string };

function toProblem(code: ErrorCode, path: string, message: string): ScanProblem {
  return Object.assign(new SicksyncError(code, message), { path });
}

/** A name as bytes, readable: valid UTF-8 as it is, other bytes as \xNN. */
export function escapeName(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const length = getUtf8Length(bytes, i);
    if (length > 0) {
      out += bytes.subarray(i, i + length).toString('utf8');
      i += length;
    } else {
      out += `\\x${bytes[i]!.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

/** Bytes of the valid UTF-8 character at `i`, or 0. */
function getUtf8Length(bytes: Buffer, i: number): number {
  const first = bytes[i]!;
  const length =
    first < 0x80 ? 1 : first >= 0xc2 && first < 0xe0 ? 2 : first >= 0xe0 && first < 0xf0 ? 3 : first >= 0xf0 && first < 0xf5 ? 4 : 0;
  if (length === 0 || i + length > bytes.length) return 0;
  return isUtf8(bytes.subarray(i, i + length)) ? length : 0;
}

function listFolder(absolute: string, folder: string, onProblem?: (problem: ScanProblem) => void): Buffer[] {
  try {
    return readdirSync(absolute, { encoding: 'buffer' });
  } catch (error) {
    if (hasErrno(error, 'ENOENT', 'ENOTDIR')) return [];
    if (hasErrno(error, 'EACCES', 'EPERM')) {
      const shown = folder === '' ? 'the top folder' : `folder ${JSON.stringify(folder)}`;
      onProblem?.(toProblem(ErrorCode.IO, folder, `cannot read ${shown} here: permission denied; nothing in it is synced`));
      return [];
    }
    throw error;
  }
}

export interface ScanOptions {
  /** Only this folder (relative to root) and what is in it; paths stay relative to root. */
  under?: string;
  /** Sees what the rules leave out (the daemon sweeps stale temporary files from it). */
  onIgnored?: (path: string, entry: Entry) => void;
  onProblem?: (problem: ScanProblem) => void;
  /** Called for each folder before it is read: a watch set up there misses nothing the read does not see. */
  onFolder?: (folder: string) => void;
}

/** Scans `root` into a Snapshot of what the rules let in. */
export async function scanTree(
  root: string,
  rules: IgnoreRules,
  { under = '', onIgnored, onProblem, onFolder }: ScanOptions = {},
): Promise<Snapshot> {
  const snapshot: Snapshot = new Map();
  const folders: string[] = [under];
  const rootBytes = Buffer.byteLength(root);
  let sinceYield = 0;
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    onFolder?.(folder);
    for (const bytes of listFolder(join(root, folder), folder, onProblem)) {
      const name = bytes.toString('utf8');
      const path = folder ? `${folder}/${name}` : name;
      if (!isUtf8(bytes)) {
        // The wire speaks UTF-8 JSON: such a name cannot be named to a destination faithfully.
        const shown = folder ? `${folder}/${escapeName(bytes)}` : escapeName(bytes);
        onProblem?.(
          toProblem(
            ErrorCode.NAME_ENCODING,
            shown,
            `not syncing "${shown}": its name is not valid UTF-8 (shown here with \\xNN escapes); rename it`,
          ),
        );
        continue;
      }
      if (rootBytes + 1 + Buffer.byteLength(path) >= PATH_MAX) {
        const shown = `${path.slice(0, 60)}…${path.slice(-40)}`;
        onProblem?.(toProblem(ErrorCode.PATH_TOO_LONG, path, `not syncing "${shown}": its path is longer than ${PATH_MAX - 1} bytes`));
        continue;
      }
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
