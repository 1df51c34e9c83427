/**
 * Whole plans of the three-way core: moves on either side, the delete guard on either side, open
 * conflicts, and modes given per path by rules.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/shared/entry.js';
import { createModeOf } from '../../../src/shared/mode-rules.js';
import { reconcile } from '../../../src/shared/plan/reconcile.js';
import type { Op, PlanInput } from '../../../src/shared/plan/types.js';
import type { SyncMode } from '../../../src/shared/sync-mode.js';
import { MTIME, change, dir, file, getSyncedWorld, moved, snapshot, type World } from '../../helpers/entries.js';

function plan(world: World, options: Partial<PlanInput> & { mode?: SyncMode } = {}, guardFloor = 1) {
  const { mode = 'bidirectional', ...rest } = options;
  return reconcile(
    {
      ...world,
      getMode: () => mode,
      getPolicy: () => 'keep-both',
      deleteExtraneous: false,
      verifyContent: true,
      hosts: { local: 'laptop', remote: 'devbox' },
      now: new Date(0),
      deleteGuard: 0.3,
      force: false,
      ...rest,
    },
    guardFloor,
  );
}

const describeOps = (ops: readonly Op[]): string[] =>
  ops.map((op) => `${op.side} ${op.kind} ${op.kind === 'rename' ? `${op.from}→${op.path}` : op.path}`);

/** Moves `from` (and everything below it) to `to` in one side's snapshot, keeping inodes and stats. */
function move(side: Map<string, Entry>, from: string, to: string): void {
  for (const [path, entry] of [...side]) {
    if (path !== from && !path.startsWith(`${from}/`)) continue;
    side.delete(path);
    const next = to + path.slice(from.length);
    side.set(next, moved(entry, next));
  }
}

describe('reconcile: moves', () => {
  it('repeats a folder moved at the destination as one move in the project', () => {
    const world = getSyncedWorld(dir('data'), file('data/big.bin', { size: 200_000_000 }), file('keep.txt'));
    move(world.remote, 'data', 'archive');
    expect(describeOps(plan(world).ops)).toEqual(['local rename data→archive']);
  });

  it('repeats a local move at the destination in push and bidirectional modes, and not in pull', () => {
    for (const [mode, expected] of [
      ['push', ['remote rename a.txt→b.txt']],
      ['bidirectional', ['remote rename a.txt→b.txt']],
      // The project follows the destination: a.txt comes back; b.txt, never synced, stays (as a
      // file only at the destination stays in push mode).
      ['pull', ['local write a.txt']],
    ] as const) {
      const world = getSyncedWorld(file('a.txt'));
      move(world.local, 'a.txt', 'b.txt');
      expect(describeOps(plan(world, { mode }).ops), mode).toEqual(expected);
    }
  });
});

describe('reconcile: the delete guard, on either side', () => {
  const tree = (): World => getSyncedWorld(...Array.from({ length: 10 }, (_, i) => file(`f${i}.txt`)));

  it('trips for the destination when the project lost most of its files, and for the project when the destination did', () => {
    const localWipe = tree();
    for (let i = 0; i < 6; i += 1) localWipe.local.delete(`f${i}.txt`);
    expect(plan(localWipe).guardTrip).toEqual({ side: 'remote', count: 6, total: 10 });

    const remoteWipe = tree();
    for (let i = 0; i < 6; i += 1) remoteWipe.remote.delete(`f${i}.txt`);
    expect(plan(remoteWipe).guardTrip).toEqual({ side: 'local', count: 6, total: 10 });
  });

  it('lets a share at the guard pass, a live batch under its floor pass, and --force pass', () => {
    const world = tree();
    for (let i = 0; i < 3; i += 1) world.remote.delete(`f${i}.txt`);
    expect(plan(world).guardTrip, 'exactly 30 %').toBeNull();
    world.remote.delete('f3.txt');
    expect(plan(world).guardTrip).not.toBeNull();
    expect(plan(world, {}, 20).guardTrip, 'a live batch of 4 deletions').toBeNull();
    expect(plan(world, { force: true }).guardTrip).toBeNull();
  });
});

describe('reconcile: conflicts', () => {
  it('a conflict left to the user is listed, planned for nowhere, and neither agreed nor forgotten', () => {
    const world = getSyncedWorld(file('plan.md'), file('other.md'));
    world.local.set('plan.md', change(world.local.get('plan.md')!, { size: 1, mtimeNs: MTIME + 1n }));
    world.remote.set('plan.md', change(world.remote.get('plan.md')!, { size: 2, mtimeNs: MTIME + 2n }));
    const result = plan(world, { getPolicy: () => 'manual' });
    expect(result.ops).toEqual([]);
    expect(result.conflicts).toEqual([expect.objectContaining({ path: 'plan.md', policy: 'manual', winner: null })]);
    expect(result.unchanged).toEqual(['other.md']);
    expect(result.forgotten).toEqual([]);
  });
});

describe('reconcile: modes by rule', () => {
  const getMode = createModeOf('push', [{ pattern: 'results/**', mode: 'pull' }]);

  it('pulls what a host writes under the rule, pushes the rest, and never pushes local files under the rule', () => {
    const local = snapshot(file('train.py'), dir('results'), file('results/mine.csv'));
    const remote = snapshot(dir('results'), file('results/run/out.csv'), dir('results/run'));
    const result = plan({ local, remote, baseline: new Map() }, { getMode });
    expect(describeOps(result.ops).sort()).toEqual(
      ['local mkdir results/run', 'local meta results/run', 'local write results/run/out.csv', 'remote write train.py'].sort(),
    );
  });

  it('makes a folder holding the rule on both sides (bidirectional), whatever the project mode', () => {
    expect(getMode('results', true)).toBe('bidirectional');
    expect(getMode('results/run', true)).toBe('pull');
    expect(getMode('src', true)).toBe('push');
    const last = createModeOf('push', [
      { pattern: 'results/**', mode: 'pull' },
      { pattern: 'results/keep/**', mode: 'push' },
    ]);
    expect(last('results/keep/a.txt', false), 'the last rule that matches wins').toBe('push');
  });
});
