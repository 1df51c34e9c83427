/**
 * Version history: every file that sicksync overwrites or deletes on a side, because of a change
 * that came from elsewhere, is kept first in `.sicksync/history/` of that side, which is never synced
 * (BUILTIN_EXCLUDES). A version of `src/app.ts` is `.sicksync/history/src/app~20261203-120000-123.ts`:
 * sorted by time, opened by the right program.
 *
 * An overwritten file is kept by a hard link made before the new content is renamed over it (no
 * moment without either, and no copy); a deleted one is moved there. Where links are not allowed, a
 * copy. Retention is per file, by count and age, applied whenever a version of it is added.
 */
import { copyFileSync, linkSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { hasErrno } from '../errors.js';
import type { ConfinedRoot, OpenFolder } from './confined-fs.js';

export const HISTORY_FOLDER = '.sicksync/history';

export function isHistoryPath(path: string): boolean {
  return path.startsWith(`${HISTORY_FOLDER}/`);
}

export interface HistoryPolicy {
  /** Versions kept per file; 0 keeps none. */
  versions: number;
  /** Versions older than this many days are removed. */
  days: number;
}

/** Versions younger than this are kept whatever their count (see prune). */
const BURST_MS = 3_600_000;

export interface Version {
  /** 1 for the newest. */
  number: number;
  /** Relative to the root. */
  path: string;
  date: Date;
  size: number;
  /** Of the version's file, to read it (`read` checks the file is still what was listed). */
  mtimeNs: string;
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

function getStamp(date: Date): string {
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}-${pad(date.getUTCMilliseconds(), 3)}`
  );
}

function splitName(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches the versions of one file name, capturing the stamp and the tie-breaking counter. */
function getVersionPattern(name: string): RegExp {
  const [stem, ext] = splitName(name);
  return new RegExp(`^${escapeRegExp(stem)}~(\\d{8}-\\d{6}-\\d{3})(?:-(\\d+))?${escapeRegExp(ext)}$`);
}

function parseStamp(stamp: string): Date {
  const [day = '', time = '', ms = '0'] = stamp.split('-');
  return new Date(
    Date.UTC(+day.slice(0, 4), +day.slice(4, 6) - 1, +day.slice(6, 8), +time.slice(0, 2), +time.slice(2, 4), +time.slice(4, 6), +ms),
  );
}

interface Found {
  name: string;
  date: Date;
  counter: number;
}

/** The versions of `name` among a history folder's entries, newest first. */
function findVersions(names: readonly string[], name: string): Found[] {
  const pattern = getVersionPattern(name);
  const found: Found[] = [];
  for (const candidate of names) {
    const match = pattern.exec(candidate);
    if (match) found.push({ name: candidate, date: parseStamp(match[1] ?? ''), counter: Number(match[2] ?? 0) });
  }
  return found.sort((a, b) => b.date.getTime() - a.date.getTime() || b.counter - a.counter);
}

export class History {
  constructor(
    private readonly confined: ConfinedRoot,
    readonly policy: HistoryPolicy,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The history folder of `path`'s folder, relative to the root. */
  private getFolder(path: string): string {
    const parent = posix.dirname(path);
    return parent === '.' ? HISTORY_FOLDER : `${HISTORY_FOLDER}/${parent}`;
  }

  /**
   * Keeps the regular file `name` of the open `folder` (at `path`) as a version. `move` takes it away
   * (a delete); otherwise it stays where it is (it is about to be replaced). Returns the version's
   * path, or null when the policy keeps none.
   */
  keep(folder: OpenFolder, name: string, path: string, move: boolean): string | null {
    if (this.policy.versions <= 0) return null;
    return this.confined.inFolder(this.getFolder(path), true, (history) => {
      const names = readdirSync(history.at('.'));
      const [stem, ext] = splitName(name);
      const stamp = getStamp(this.clock());
      let version = `${stem}~${stamp}${ext}`;
      for (let counter = 2; names.includes(version); counter += 1) version = `${stem}~${stamp}-${counter}${ext}`;
      this.store(folder.at(name), history.at(version), move);
      this.prune(history, [...names, version], name);
      return `${this.getFolder(path)}/${version}`;
    });
  }

  private store(source: string, target: string, move: boolean): void {
    try {
      if (move) renameSync(source, target);
      else linkSync(source, target);
    } catch (error) {
      // Another filesystem mounted inside the root, or one without hard links: a copy does.
      if (!hasErrno(error, 'EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP')) throw error;
      copyFileSync(source, target);
      if (move) unlinkSync(source);
    }
  }

  /**
   * Nothing older than `days` stays; beyond the newest `versions`, a version goes once it is an
   * hour old. A burst of edits (a storm of saves, a branch switched back and forth) keeps all of
   * its versions for an hour, whatever the count.
   */
  private prune(history: OpenFolder, names: readonly string[], name: string): void {
    const now = this.clock().getTime();
    const oldest = now - this.policy.days * 86_400_000;
    findVersions(names, name).forEach((found, index) => {
      const time = found.date.getTime();
      const expired = time < oldest;
      const surplus = index >= this.policy.versions && now - time > BURST_MS;
      if (!expired && !surplus) return;
      try {
        unlinkSync(history.at(found.name));
      } catch {
        // Removed by another pruning already.
      }
    });
  }

  /** The versions kept of `path`, newest first. */
  list(path: string): Version[] {
    let names: string[];
    try {
      names = this.confined.inFolder(this.getFolder(path), false, (history) => readdirSync(history.at('.')));
    } catch (error) {
      if (hasErrno(error, 'ENOENT', 'ENOTDIR')) return [];
      throw error;
    }
    const folder = this.getFolder(path);
    return findVersions(names, posix.basename(path)).map((found, index) => {
      const relative = `${folder}/${found.name}`;
      let size = 0;
      let mtimeNs = '0';
      try {
        const stats = statSync(posix.join(this.confined.root, relative), { bigint: true });
        size = Number(stats.size);
        mtimeNs = stats.mtimeNs.toString();
      } catch {
        // Pruned meanwhile: listed with no size.
      }
      return { number: index + 1, path: relative, date: found.date, size, mtimeNs };
    });
  }
}
