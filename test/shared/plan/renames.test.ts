import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/shared/entry.js';
import { getPushPlan, type PushOp } from '../../helpers/push-plan.js';
import { applyRenames, findRenames } from '../../../src/shared/plan/renames.js';
import { MTIME, change, dir, file, getNextIno, getRecord, getRemote, getSyncedWorld, moved, type World } from '../../helpers/entries.js';

function plan(world: World) {
  return getPushPlan({ ...world, deleteExtraneous: false, verifyContent: false });
}

function describeOps(ops: readonly PushOp[]): string[] {
  return ops.map((op) => (op.kind === 'rename' ? `rename ${op.from}→${op.path}` : `${op.kind} ${op.path}`));
}

function getPaths(world: World): string[] {
  return [...new Set([...world.local.keys(), ...world.remote.keys(), ...world.baseline.keys()])];
}

/** Moves `from` (and everything below it) to `to` in the local snapshot, keeping inodes and stats. */
function moveLocally(world: World, from: string, to: string): void {
  for (const [path, entry] of [...world.local]) {
    if (path !== from && !path.startsWith(`${from}/`)) continue;
    world.local.delete(path);
    const next = to + path.slice(from.length);
    world.local.set(next, moved(entry, next));
  }
}

/** A synced world holding one 200 MB file, the case renames exist for. */
function getBigFileWorld(): { world: World; big: Entry } {
  const big = file('data/big.bin', { size: 200_000_000 });
  return { world: getSyncedWorld(dir('data'), big, file('data/other.txt')), big };
}

describe('rename detection in getPushPlan', () => {
  it('a file moved (same inode, size and mtime) → one rename op, no write, no delete', () => {
    const { world, big } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    const result = plan(world);
    expect(result.ops).toEqual([{ kind: 'rename', from: 'data/big.bin', path: 'data/renamed.bin', entry: moved(big, 'data/renamed.bin') }]);
    expect(result.deleteCount).toBe(0);
  });

  it('after a move, the new path is agreed with the moved remote entry and the old one forgotten', () => {
    const { world } = getBigFileWorld();
    const remoteBefore = getRemote(world, 'data/big.bin');
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    const result = plan(world);
    const agreed = new Map(result.agreed);
    expect(agreed.get('data/renamed.bin')).toEqual({
      local: world.local.get('data/renamed.bin'),
      remote: { ...remoteBefore, path: 'data/renamed.bin' },
    });
    expect(agreed.has('data/big.bin')).toBe(false);
    expect(result.forgotten).toEqual(['data/big.bin']);
  });

  it('a file moved into another existing folder → one rename op', () => {
    const { world } = getBigFileWorld();
    world.local.set('archive', dir('archive'));
    world.remote.set('archive', dir('archive'));
    moveLocally(world, 'data/big.bin', 'archive/big.bin');
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['rename data/big.bin→archive/big.bin']);
  });

  it('a folder moved with its children → one rename op for the folder, nothing for the children', () => {
    const world = getSyncedWorld(dir('src'), dir('src/lib'), file('src/lib/a.ts'), file('src/b.ts'), file('README.md'));
    moveLocally(world, 'src', 'source');
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['rename src→source']);
    expect(result.ops[0]).toEqual({ kind: 'rename', from: 'src', path: 'source', entry: world.local.get('source') });
    expect(result.deleteCount).toBe(0);
    expect(new Set(result.forgotten)).toEqual(new Set(['src', 'src/lib', 'src/lib/a.ts', 'src/b.ts']));
    const agreed = new Map(result.agreed);
    expect([...agreed.keys()].sort()).toEqual(['source', 'source/b.ts', 'source/lib', 'source/lib/a.ts']);
    expect(result.unchanged).toEqual(['README.md']);
    // The children's remote entries are the ones already there, under their new paths.
    expect(agreed.get('source/lib/a.ts')?.remote).toEqual({ ...getRemote(world, 'src/lib/a.ts'), path: 'source/lib/a.ts' });
  });

  it('a folder moved, one of its files edited → rename the folder, write that file only', () => {
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), file('src/b.ts'));
    moveLocally(world, 'src', 'source');
    world.local.set(
      'source/a.ts',
      change(getRecord(world, 'src/a.ts').local, { path: 'source/a.ts', size: 1234, mtimeNs: MTIME + 9_000_000n }),
    );
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['rename src→source', 'write source/a.ts']);
  });

  it('a folder moved while one of its files was deleted → rename, then delete that file at its new path', () => {
    // `rm src/gone.ts && mv src source`: after the rename the destination holds source/gone.ts,
    // a path that is in neither snapshot's keys nor the baseline's as given.
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), file('src/gone.ts'));
    world.local.delete('src/gone.ts');
    moveLocally(world, 'src', 'source');
    const expectRemote = { ...getRecord(world, 'src/gone.ts').remote, path: 'source/gone.ts' };
    const result = plan(world);
    expect(result.ops).toEqual([
      { kind: 'rename', from: 'src', path: 'source', entry: world.local.get('source') },
      { kind: 'delete', path: 'source/gone.ts', expect: expectRemote },
    ]);
    expect(result.deleteCount).toBe(1);
  });

  it('a folder moved, then given a new file (so its own mtime changed) → still one rename, then the new file', () => {
    const world = getSyncedWorld(dir('src'), file('src/a.ts'));
    moveLocally(world, 'src', 'source');
    world.local.set('source', change(world.local.get('source') as Entry, { mtimeNs: MTIME + 60_000_000_000n }));
    world.local.set('source/new.ts', file('source/new.ts'));
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['rename src→source', 'write source/new.ts', 'meta source']);
  });

  it('a file moved out of a moved folder is not renamed from its old path, which the folder took along', () => {
    // `mv src source && mv source/a.ts a.ts`: once src is renamed, src/a.ts no longer exists there.
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), file('src/b.ts'));
    moveLocally(world, 'src', 'source');
    moveLocally(world, 'source/a.ts', 'a.ts');
    const result = plan(world);
    expect(result.ops[0]).toEqual({ kind: 'rename', from: 'src', path: 'source', entry: world.local.get('source') });
    expect(result.ops.filter((op) => op.kind === 'rename' && op.from.startsWith('src/'))).toEqual([]);
    expect(describeOps(result.ops)).toContain('write a.ts');
  });

  it('a moved file that was also chmodded → rename, then meta', () => {
    const { world } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/run.bin');
    const local = change(world.local.get('data/run.bin') as Entry, { mode: 0o755 });
    world.local.set('data/run.bin', local);
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['rename data/big.bin→data/run.bin', 'meta data/run.bin']);
  });

  it('a moved file that was also edited (size changed) → not a rename: delete and write', () => {
    const { world } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    world.local.set('data/renamed.bin', change(world.local.get('data/renamed.bin') as Entry, { size: 1 }));
    expect(describeOps(plan(world).ops)).toEqual(['delete data/big.bin', 'write data/renamed.bin']);
  });

  it('a moved file that was also touched (mtime changed) → not a rename', () => {
    const { world } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    world.local.set('data/renamed.bin', change(world.local.get('data/renamed.bin') as Entry, { mtimeNs: MTIME + 1n }));
    expect(describeOps(plan(world).ops)).toEqual(['delete data/big.bin', 'write data/renamed.bin']);
  });

  it('a moved file whose remote copy was replaced since the baseline (new inode) → not a rename', () => {
    const { world } = getBigFileWorld();
    const base = getRecord(world, 'data/big.bin');
    world.remote.set('data/big.bin', { ...base.remote, ino: getNextIno(), size: 7, mtimeNs: String(MTIME + 5_000_000_000n) });
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    const result = plan(world);
    expect(result.ops).toEqual([
      { kind: 'delete', path: 'data/big.bin', expect: base.remote },
      { kind: 'write', path: 'data/renamed.bin', entry: world.local.get('data/renamed.bin') },
    ]);
  });

  it('a moved file whose remote copy was edited in place since the baseline (same inode) → not a rename', () => {
    // As a rename, the destination's edit would travel to the new path and be overwritten by the
    // write that follows; as delete + write, the daemon sees `expect` differ and keeps a conflict copy.
    const { world } = getBigFileWorld();
    const base = getRecord(world, 'data/big.bin');
    world.remote.set('data/big.bin', change(base.remote, { size: 7, mtimeNs: MTIME + 5_000_000_000n }));
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    const result = plan(world);
    expect(result.ops).toEqual([
      { kind: 'delete', path: 'data/big.bin', expect: base.remote },
      { kind: 'write', path: 'data/renamed.bin', entry: world.local.get('data/renamed.bin') },
    ]);
  });

  it('a move onto a path that exists at the destination → not a rename', () => {
    const { world } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/taken.bin');
    world.remote.set('data/taken.bin', file('data/taken.bin', { size: 3 }));
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['delete data/big.bin', 'write data/taken.bin']);
  });

  it('a hard link (the old path still exists locally) → not a rename', () => {
    const { world, big } = getBigFileWorld();
    world.local.set('data/link.bin', moved(big, 'data/link.bin'));
    expect(describeOps(plan(world).ops)).toEqual(['write data/link.bin']);
  });

  it('a new file of the same size and mtime but another inode → not a rename', () => {
    const { world, big } = getBigFileWorld();
    world.local.delete('data/big.bin');
    world.local.set('data/copy.bin', { ...big, path: 'data/copy.bin', ino: getNextIno() });
    expect(describeOps(plan(world).ops)).toEqual(['delete data/big.bin', 'write data/copy.bin']);
  });

  it('a path that was never synced cannot be the source of a rename', () => {
    const big = file('big.bin');
    const world: World = {
      local: new Map([['new.bin', moved(big, 'new.bin')]]),
      remote: new Map([['big.bin', { ...big, ino: getNextIno() }]]),
      baseline: new Map(),
    };
    expect(describeOps(plan(world).ops)).toEqual(['write new.bin']);
  });
});

describe('findRenames', () => {
  it('pairs the gone path with the new one', () => {
    const { world, big } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    expect(findRenames(getPaths(world), 'local', world, world.baseline, () => true)).toEqual([
      { side: 'local', from: 'data/big.bin', to: 'data/renamed.bin', entry: moved(big, 'data/renamed.bin') },
    ]);
  });

  it('finds nothing when nothing is gone', () => {
    const world = getSyncedWorld(file('a'), file('b'));
    world.local.set('c', file('c'));
    expect(findRenames(getPaths(world), 'local', world, world.baseline, () => true)).toEqual([]);
  });

  it('looks only at the paths it is given (live mode)', () => {
    const { world } = getBigFileWorld();
    moveLocally(world, 'data/big.bin', 'data/renamed.bin');
    expect(findRenames(['data/renamed.bin'], 'local', world, world.baseline, () => true)).toEqual([]);
    expect(findRenames(['data/big.bin'], 'local', world, world.baseline, () => true)).toEqual([]);
    expect(findRenames(['data/renamed.bin', 'data/big.bin'], 'local', world, world.baseline, () => true)).toHaveLength(1);
  });

  it('two folders swapped through a third name → outermost renames only', () => {
    const world = getSyncedWorld(dir('a'), file('a/x'), dir('b'), file('b/y'));
    moveLocally(world, 'a', 'c');
    moveLocally(world, 'b', 'a2');
    const renames = findRenames(getPaths(world), 'local', world, world.baseline, () => true);
    expect(renames.map((r) => `${r.from}→${r.to}`).sort()).toEqual(['a→c', 'b→a2']);
  });
});

describe('applyRenames', () => {
  it('moves a folder and everything below it in copies of the remote view and baseline', () => {
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), file('srcfile.ts'));
    const remote = new Map(world.remote);
    const baseline = new Map(world.baseline);
    const applied = applyRenames([{ side: 'local', from: 'src', to: 'lib', entry: dir('lib') }], world, world.baseline);
    const next = { remote: applied.snapshots.remote, baseline: applied.baseline };

    expect([...next.remote.keys()].sort()).toEqual(['lib', 'lib/a.ts', 'srcfile.ts']);
    expect(next.remote.get('lib/a.ts')).toEqual({ ...getRemote(world, 'src/a.ts'), path: 'lib/a.ts' });
    expect([...next.baseline.keys()].sort()).toEqual(['lib', 'lib/a.ts', 'srcfile.ts']);
    expect(next.baseline.get('lib/a.ts')).toEqual({
      local: { ...getRecord(world, 'src/a.ts').local, path: 'lib/a.ts' },
      remote: { ...getRecord(world, 'src/a.ts').remote, path: 'lib/a.ts' },
    });
    // A sibling whose name merely starts with the folder's stays where it is.
    expect(next.remote.get('srcfile.ts')).toBe(getRemote(world, 'srcfile.ts'));
    // The inputs are untouched.
    expect(world.remote).toEqual(remote);
    expect(world.baseline).toEqual(baseline);
  });
});
