/**
 * Version history retention, with a clock the test moves: a burst keeps every version for an hour,
 * then the newest `versions` stay, and nothing outlives `days`.
 */
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfinedRoot } from '../../src/shared/tree/confined-fs.js';
import { History } from '../../src/shared/tree/history.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function makeHistory(policy: { versions: number; days: number }) {
  const root = await mkdtemp(join(tmpdir(), 'history-'));
  roots.push(root);
  let now = Date.UTC(2026, 11, 3, 12, 0, 0);
  const confined = new ConfinedRoot(root);
  const history = new History(confined, policy, () => new Date(now));
  /** Puts `content` at notes.txt, then keeps it and replaces it by rename, as sicksync's writes do. */
  const keep = async (content: string): Promise<void> => {
    await writeFile(join(root, 'notes.txt'), content);
    confined.inParent('notes.txt', false, (folder, name) => history.keep(folder, name, 'notes.txt', false));
    await writeFile(join(root, 'next.tmp'), 'replaced');
    await rename(join(root, 'next.tmp'), join(root, 'notes.txt'));
  };
  return { root, history, keep, advance: (ms: number) => (now += ms) };
}

const HOUR = 3_600_000;

describe('History', () => {
  it('keeps every version of a burst for an hour, then the newest `versions`', async () => {
    const { root, history, keep, advance } = await makeHistory({ versions: 3, days: 30 });
    for (let i = 0; i < 8; i += 1) {
      await keep(`v${i}`);
      advance(1000);
    }
    expect(history.list('notes.txt')).toHaveLength(8);
    advance(2 * HOUR);
    await keep('v8');
    const left = history.list('notes.txt');
    expect(left.map((version) => version.number)).toEqual([1, 2, 3]);
    const contents = await Promise.all(left.map((version) => readFile(join(root, version.path), 'utf8')));
    expect(contents).toEqual(['v8', 'v7', 'v6']);
  });

  it('removes versions older than `days`, and names versions of one millisecond apart', async () => {
    const { history, keep, advance } = await makeHistory({ versions: 100, days: 1 });
    await keep('a');
    await keep('b'); // the same millisecond: a counter keeps both
    expect(history.list('notes.txt')).toHaveLength(2);
    advance(25 * HOUR);
    await keep('c');
    expect(history.list('notes.txt')).toHaveLength(1);
  });

  it('keeps nothing when `versions` is 0', async () => {
    const { root, history, keep } = await makeHistory({ versions: 0, days: 30 });
    await keep('a');
    expect(history.list('notes.txt')).toEqual([]);
    expect(await readdir(root)).toEqual(['notes.txt']);
  });
});
