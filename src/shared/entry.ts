/**
 * What a scan knows of one path. Times and inode numbers travel as decimal strings because they do
 * not fit a JavaScript number exactly (nanosecond mtimes are ~1.7e18).
 */
export type EntryKind = 'file' | 'dir' | 'symlink';

export interface Entry {
  /** POSIX path relative to the root, no leading or trailing slash. */
  path: string;
  kind: EntryKind;
  /** Bytes for a file; 0 otherwise. */
  size: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  mtimeNs: string;
  ino: string;
  /** Link target, for symlinks only. */
  target?: string;
}

/** The state of one side, keyed by relative path. */
export type Snapshot = Map<string, Entry>;

/** Filesystems that keep whole seconds only (or sources that were copied at that granularity). */
export function hasCoarseMtime(entry: Entry): boolean {
  return BigInt(entry.mtimeNs) % 1_000_000_000n === 0n;
}

/**
 * Two entries have the same mtime when they differ by less than a microsecond: utimes() keeps whole
 * microseconds only (libuv), so a copy lands within 0.5 µs of its source (src/shared/tree/fs-helpers.ts).
 */
export function hasSameMtime(a: Entry, b: Entry): boolean {
  const delta = BigInt(a.mtimeNs) - BigInt(b.mtimeNs);
  return delta > -1000n && delta < 1000n;
}

/** Exact equality of what the filesystem reports: the test for "unchanged since last sync". */
export function isSameStat(a: Entry, b: Entry): boolean {
  return a.kind === b.kind && a.size === b.size && a.mode === b.mode && a.mtimeNs === b.mtimeNs && a.ino === b.ino && a.target === b.target;
}

export function getParentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

export function isInside(path: string, folder: string): boolean {
  return folder === '' || path.startsWith(`${folder}/`);
}
