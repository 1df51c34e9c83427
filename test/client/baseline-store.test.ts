import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaselineStore, type SyncState } from '../../src/client/sync/baseline-store.js';
import type { Conflict } from '../../src/shared/plan/types.js';
import { agreedRecord, copyOf, dir, file, symlink } from '../helpers/entries.js';

let stateDir: string;
let store: BaselineStore;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'sicksync-store-'));
  store = new BaselineStore(stateDir, '/home/me/web', 'devbox:src/web');
});

afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

function getState(): SyncState {
  const records = [
    agreedRecord(dir('src')),
    agreedRecord(file('src/a.ts', { size: 120 })),
    agreedRecord(symlink('link', 'src/a.ts')),
    // A destination that keeps other permission bits (a vfat mount) and a path with odd characters.
    agreedRecord(file('run.sh', { mode: 0o755 }), copyOf(file('run.sh', { mode: 0o755 }), { mode: 0o644 })),
    agreedRecord(file('odd "name"\n\t.txt')),
  ];
  const conflict: Conflict = { path: 'src/a.ts', local: records[1]!.local, remote: records[1]!.remote, policy: 'manual', winner: null };
  return {
    baseline: new Map(records.map((record) => [record.local.path, record])),
    conflicts: new Map([['src/a.ts', conflict]]),
    resolutions: new Map([['src/a.ts', 'both']]),
  };
}

describe('BaselineStore', () => {
  it('reads back what it saved: every field of both sides, conflicts and resolutions', async () => {
    const state = getState();
    await store.save(state);
    expect(await store.load()).toEqual(state);
  });

  it('writes one short line per path, naming the path once', async () => {
    await store.save(getState());
    const lines = readFileSync(store.file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    const record = lines.find((line) => line.startsWith('["src/a.ts"'));
    expect(record?.split('src/a.ts')).toHaveLength(2);
    expect(record).not.toContain('"path"');
  });

  it('still reads the state files of earlier versions (one JSON document)', async () => {
    const state = getState();
    const entries = [...state.baseline].map(([path, { local, remote }]) => [path, local, remote]);
    mkdirSync(dirname(store.file), { recursive: true });
    writeFileSync(
      store.file,
      JSON.stringify({ format: 2, root: '/home/me/web', destination: 'devbox:src/web', entries, conflicts: [...state.conflicts.values()] }),
    );
    const loaded = await store.load();
    expect(loaded?.baseline).toEqual(state.baseline);
    expect(loaded?.conflicts).toEqual(state.conflicts);
  });

  it('takes a file cut short or damaged for no state at all (a full comparison), never half of one', async () => {
    await store.save(getState());
    const text = readFileSync(store.file, 'utf8');
    writeFileSync(store.file, text.slice(0, text.length - 20));
    expect(await store.load()).toBeNull();
    writeFileSync(store.file, text.replace('"dir"', '"di'));
    expect(await store.load()).toBeNull();
  });

  it('is null for a destination never synced', async () => {
    expect(await store.load()).toBeNull();
  });
});
