/**
 * The last agreed state of one (project, destination) pair, and its open conflicts, kept between
 * runs so that changes made on either side while sicksync was not running are found, deletions
 * propagate only for what we once synced, and a conflict left for the user stays listed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, EntryKind } from '../../shared/entry.js';
import type { Baseline, BaselineRecord, Conflict } from '../../shared/plan/types.js';

/**
 * Format 3 is JSON lines: a header with the conflicts, then one short array per path (see
 * toRecordLine). Formats 1 and 2 were one JSON document naming every field of both entries, three
 * times the size: 23 MB for 100,000 files, parsed and written as one string. They are still read.
 */
const FORMAT = 3;

/** Lines written to the file in one call while saving. */
const LINES_PER_WRITE = 2000;

/** A user's answer to an open conflict (`sicksync resolve`), waiting to be applied. */
export type Resolution = 'local' | 'remote' | 'both';

interface StoredBaseline {
  format: number;
  root: string;
  destination: string;
  entries: [string, Entry, Entry][];
  conflicts?: Conflict[];
  resolutions?: [string, Resolution][];
}

interface StoredHeader {
  format: typeof FORMAT;
  root: string;
  destination: string;
  conflicts: Conflict[];
  resolutions: [string, Resolution][];
}

/** kind, size, mode, mtimeNs, ino, target (null when none): one side's entry without its path. */
type StatFields = [EntryKind, number, number, string, string, string | null];

/**
 * `[path, ...local, remoteMtimeNs, remoteIno]` when the remote entry differs from the local one
 * only in time and inode (nearly always: it is a copy), else `[path, ...local, ...remote]`.
 */
type RecordLine = [string, ...StatFields, string, string] | [string, ...StatFields, ...StatFields];

function toStatFields(entry: Entry): StatFields {
  return [entry.kind, entry.size, entry.mode, entry.mtimeNs, entry.ino, entry.target ?? null];
}

function toEntry(path: string, [kind, size, mode, mtimeNs, ino, target]: StatFields): Entry {
  return target === null ? { path, kind, size, mode, mtimeNs, ino } : { path, kind, size, mode, mtimeNs, ino, target };
}

function toRecordLine(path: string, { local, remote }: BaselineRecord): string {
  const sameButTimes =
    local.kind === remote.kind && local.size === remote.size && local.mode === remote.mode && local.target === remote.target;
  const line: RecordLine = sameButTimes
    ? [path, ...toStatFields(local), remote.mtimeNs, remote.ino]
    : [path, ...toStatFields(local), ...toStatFields(remote)];
  return JSON.stringify(line);
}

function fromRecordLine(line: RecordLine): [string, BaselineRecord] {
  const [path, ...fields] = line;
  const localFields = fields.slice(0, 6) as StatFields;
  const remoteFields = (
    fields.length === 8 ? [...localFields.slice(0, 3), fields[6], fields[7], localFields[5]] : fields.slice(6)
  ) as StatFields;
  return [path, { local: toEntry(path, localFields), remote: toEntry(path, remoteFields) }];
}

export interface SyncState {
  baseline: Baseline;
  conflicts: Map<string, Conflict>;
  resolutions: Map<string, Resolution>;
}

export function getStoreKey(root: string, destination: string): string {
  return createHash('sha256').update(`${root}\0${destination}`).digest('hex').slice(0, 32);
}

export class BaselineStore {
  readonly file: string;

  constructor(
    stateDir: string,
    private readonly root: string,
    private readonly destination: string,
  ) {
    this.file = join(stateDir, 'baselines', `${getStoreKey(root, destination)}.json`);
  }

  /** null when this destination was never synced from this project (its first sync). */
  async load(): Promise<SyncState | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return null;
    }
    try {
      return text.startsWith(`{"format":${FORMAT},`) ? readLines(text) : readDocument(text);
    } catch {
      // A damaged file only costs a full comparison, which hashes whatever is in doubt.
      return null;
    }
  }

  /**
   * Answers to open conflicts given by `sicksync resolve`, kept in a small file of their own so a
   * running client can take them without reading (or racing with) the whole state.
   */
  get resolutionsFile(): string {
    return this.file.replace(/\.json$/, '.resolve.json');
  }

  async addResolution(path: string, keep: Resolution): Promise<void> {
    const pending = await this.readResolutions();
    pending.set(path, keep);
    await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${this.resolutionsFile}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify([...pending]), { mode: 0o600 });
    await rename(temp, this.resolutionsFile);
  }

  private async readResolutions(): Promise<Map<string, Resolution>> {
    try {
      const parsed = JSON.parse(await readFile(this.resolutionsFile, 'utf8')) as [string, Resolution][];
      return new Map(parsed.filter(([, keep]) => keep === 'local' || keep === 'remote' || keep === 'both'));
    } catch {
      return new Map();
    }
  }

  /** The answers waiting, removed from the file once read. */
  async takeResolutions(): Promise<Map<string, Resolution>> {
    const pending = await this.readResolutions();
    if (pending.size > 0) await unlink(this.resolutionsFile).catch(() => undefined);
    return pending;
  }

  async hasPendingResolutions(): Promise<boolean> {
    return (await this.readResolutions()).size > 0;
  }

  /** Written line by line in slices and renamed into place, so no reader ever sees half a state. */
  async save(state: SyncState): Promise<void> {
    const header: StoredHeader = {
      format: FORMAT,
      root: this.root,
      destination: this.destination,
      conflicts: [...state.conflicts.values()],
      resolutions: [...state.resolutions],
    };
    // Taken whole before the first await: a change made while the file is written waits for the next save.
    const slices: string[] = [];
    let lines = [JSON.stringify(header)];
    for (const [path, record] of state.baseline) {
      lines.push(toRecordLine(path, record));
      if (lines.length < LINES_PER_WRITE) continue;
      slices.push(`${lines.join('\n')}\n`);
      lines = [];
    }
    if (lines.length > 0) slices.push(`${lines.join('\n')}\n`);
    await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      for (const slice of slices) await handle.write(slice);
    } finally {
      await handle.close();
    }
    await rename(temp, this.file);
  }
}

function readLines(text: string): SyncState {
  let end = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, end)) as StoredHeader;
  const baseline: Baseline = new Map();
  while (end < text.length - 1) {
    const start = end + 1;
    end = text.indexOf('\n', start);
    if (end === -1) throw new Error('the last line is cut short');
    const [path, record] = fromRecordLine(JSON.parse(text.slice(start, end)) as RecordLine);
    baseline.set(path, record);
  }
  return {
    baseline,
    conflicts: new Map(header.conflicts.map((conflict) => [conflict.path, conflict])),
    resolutions: new Map(header.resolutions),
  };
}

function readDocument(text: string): SyncState | null {
  const stored = JSON.parse(text) as StoredBaseline;
  if (stored.format !== 2 && stored.format !== 1) return null;
  return {
    baseline: new Map(stored.entries.map(([path, local, remote]) => [path, { local, remote }])),
    conflicts: new Map((stored.conflicts ?? []).map((conflict) => [conflict.path, conflict])),
    resolutions: new Map(stored.resolutions ?? []),
  };
}
