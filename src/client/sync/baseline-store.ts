/**
 * The last agreed state of one (project, destination) pair, kept between runs so that changes made
 * while sicksync was not running are found, and deletions propagate only for what we once synced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '../../shared/entry.js';
import type { Baseline } from '../../shared/plan/types.js';

const FORMAT = 1;

interface StoredBaseline {
  format: number;
  root: string;
  destination: string;
  entries: [string, Entry, Entry][];
}

export class BaselineStore {
  private readonly file: string;

  constructor(
    stateDir: string,
    private readonly root: string,
    private readonly destination: string,
  ) {
    const key = createHash('sha256').update(`${root}\0${destination}`).digest('hex').slice(0, 32);
    this.file = join(stateDir, 'baselines', `${key}.json`);
  }

  /** null when this destination was never synced from this project (its first sync). */
  async load(): Promise<Baseline | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return null;
    }
    try {
      const stored = JSON.parse(text) as StoredBaseline;
      if (stored.format !== FORMAT) return null;
      return new Map(stored.entries.map(([path, local, remote]) => [path, { local, remote }]));
    } catch {
      // A damaged file only costs a full comparison, which hashes whatever is in doubt.
      return null;
    }
  }

  async save(baseline: Baseline): Promise<void> {
    const stored: StoredBaseline = {
      format: FORMAT,
      root: this.root,
      destination: this.destination,
      entries: [...baseline].map(([path, { local, remote }]) => [path, local, remote]),
    };
    await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(stored), { mode: 0o600 });
    await rename(temp, this.file);
  }
}
