/**
 * In-memory builders for the pure sync core: entries, snapshots and baselines without a filesystem.
 * Defaults look like what ext4 or APFS report (nanosecond mtimes, distinct inodes per side).
 */
import type { Entry, EntryKind, Snapshot } from '../../src/shared/entry.js';
import type { Baseline, BaselineRecord } from '../../src/shared/plan/types.js';

/** 2023-11-14T22:13:20.123456789Z: a nanosecond mtime with every sub-second digit set. */
export const MTIME = 1_700_000_000_123_456_789n;

/** 2023-11-14T22:13:20Z: what a filesystem that keeps whole seconds only reports. */
export const WHOLE_SECOND = 1_700_000_000_000_000_000n;

let lastIno = 100_000;

/** A fresh inode number, never handed out before in this test file. */
export function getNextIno(): string {
  lastIno += 1;
  return String(lastIno);
}

export type EntryChanges = Partial<Omit<Entry, 'mtimeNs'>> & { mtimeNs?: string | bigint };

function getDefaults(kind: EntryKind): { size: number; mode: number } {
  if (kind === 'dir') return { size: 0, mode: 0o755 };
  if (kind === 'symlink') return { size: 0, mode: 0o777 };
  return { size: 10, mode: 0o644 };
}

function build(path: string, kind: EntryKind, changes: EntryChanges): Entry {
  const { mtimeNs, ...rest } = changes;
  return {
    path,
    kind,
    ...getDefaults(kind),
    ino: getNextIno(),
    ...rest,
    mtimeNs: String(mtimeNs ?? MTIME),
  };
}

export function file(path: string, changes: EntryChanges = {}): Entry {
  return build(path, 'file', changes);
}

export function dir(path: string, changes: EntryChanges = {}): Entry {
  return build(path, 'dir', changes);
}

export function symlink(path: string, target: string, changes: EntryChanges = {}): Entry {
  return build(path, 'symlink', { target, ...changes });
}

/** The same object with some of its stat changed (same inode unless `ino` is given). */
export function change(entry: Entry, changes: EntryChanges): Entry {
  const { mtimeNs, ...rest } = changes;
  return { ...entry, ...rest, mtimeNs: String(mtimeNs ?? entry.mtimeNs) };
}

/** What a sync leaves at the destination: the same stat under another inode, unless told otherwise. */
export function copyOf(entry: Entry, changes: EntryChanges = {}): Entry {
  return change({ ...entry, ino: getNextIno() }, changes);
}

/** The same object at another path (a move keeps the inode, size, mode and mtime). */
export function moved(entry: Entry, path: string): Entry {
  return { ...entry, path };
}

export function snapshot(...entries: Entry[]): Snapshot {
  return new Map(entries.map((entry) => [entry.path, entry]));
}

/** A baseline record: both sides as they were right after `local` was synced to `remote`. */
export function agreedRecord(local: Entry, remote: Entry = copyOf(local)): BaselineRecord {
  return { local, remote };
}

export function baseline(...records: BaselineRecord[]): Baseline {
  return new Map(records.map((record) => [record.local.path, record]));
}

export interface World {
  local: Snapshot;
  remote: Snapshot;
  baseline: Baseline;
}

/** Both sides in sync with each other and with the baseline, each remote entry a copy of the local one. */
export function getSyncedWorld(...localEntries: Entry[]): World {
  const records = localEntries.map((entry) => agreedRecord(entry));
  return {
    local: snapshot(...localEntries),
    remote: snapshot(...records.map((record) => record.remote)),
    baseline: baseline(...records),
  };
}

/** The remote entry of a path in a world, failing loudly when the fixture has none. */
export function getRemote(world: World, path: string): Entry {
  const entry = world.remote.get(path);
  if (!entry) throw new Error(`fixture has no remote entry for ${path}`);
  return entry;
}

/** The baseline record of a path in a world, failing loudly when the fixture has none. */
export function getRecord(world: World, path: string): BaselineRecord {
  const record = world.baseline.get(path);
  if (!record) throw new Error(`fixture has no baseline record for ${path}`);
  return record;
}
