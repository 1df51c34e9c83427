/**
 * The last agreed state of one (project, destination) pair, and its open conflicts, kept between
 * runs so that changes made on either side while sicksync was not running are found, deletions
 * propagate only for what we once synced, and a conflict left for the user stays listed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '../../shared/entry.js';
import type { Baseline, Conflict } from '../../shared/plan/types.js';

const FORMAT = 2;

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
      const stored = JSON.parse(text) as StoredBaseline;
      if (stored.format !== FORMAT && stored.format !== 1) return null;
      return {
        baseline: new Map(stored.entries.map(([path, local, remote]) => [path, { local, remote }])),
        conflicts: new Map((stored.conflicts ?? []).map((conflict) => [conflict.path, conflict])),
        resolutions: new Map(stored.resolutions ?? []),
      };
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

  async save(state: SyncState): Promise<void> {
    const stored: StoredBaseline = {
      format: FORMAT,
      root: this.root,
      destination: this.destination,
      entries: [...state.baseline].map(([path, { local, remote }]) => [path, local, remote]),
      conflicts: [...state.conflicts.values()],
      resolutions: [...state.resolutions],
    };
    await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(stored), { mode: 0o600 });
    await rename(temp, this.file);
  }
}
