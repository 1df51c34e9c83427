import { describe, expect, it } from 'vitest';
import { getPushPlan, type PushOp, type PushPlanInput } from '../../helpers/push-plan.js';
import {
  MTIME,
  WHOLE_SECOND,
  change,
  copyOf,
  dir,
  file,
  getRecord,
  getRemote,
  getSyncedWorld,
  moved,
  snapshot,
  symlink,
  type World,
} from '../../helpers/entries.js';

function plan(world: World, options: Partial<PushPlanInput> = {}) {
  return getPushPlan({ ...world, deleteExtraneous: false, verifyContent: false, ...options });
}

/** `kind path` per op (`rename from→to`), which is what order and content tests care about. */
function describeOps(ops: readonly PushOp[]): string[] {
  return ops.map((op) => (op.kind === 'rename' ? `rename ${op.from}→${op.path}` : `${op.kind} ${op.path}`));
}

describe('getPushPlan', () => {
  it('plans nothing for empty snapshots', () => {
    const result = plan({ local: new Map(), remote: new Map(), baseline: new Map() });
    expect(result).toEqual({ ops: [], needHashes: [], deleteCount: 0, agreed: [], unchanged: [], forgotten: [] });
  });

  it('plans nothing for a synced tree and records nothing new: every path is unchanged', () => {
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), symlink('link', 'src/a.ts'));
    const result = plan(world);
    expect(result.ops).toEqual([]);
    expect(result.deleteCount).toBe(0);
    expect(result.forgotten).toEqual([]);
    expect(result.agreed).toEqual([]);
    expect(result.unchanged.sort()).toEqual(['link', 'src', 'src/a.ts']);
  });

  it('agrees, with both sides, on paths equal on both sides but not as the baseline holds them', () => {
    const world = getSyncedWorld(dir('src'), file('src/a.ts'), symlink('link', 'src/a.ts'));
    // The same stat read again (a restart's scan): equal entries, other objects.
    const baselineCopy = new Map(
      [...world.baseline].map(([path, record]) => [path, { local: { ...record.local }, remote: { ...record.remote } }]),
    );
    const result = plan({ ...world, baseline: baselineCopy });
    expect(result.ops).toEqual([]);
    expect(result.unchanged).toEqual([]);
    expect(new Map(result.agreed)).toEqual(
      new Map(['src', 'src/a.ts', 'link'].map((path) => [path, { local: world.local.get(path), remote: getRemote(world, path) }])),
    );
  });

  it('sends a whole new tree: mkdirs shallowest first, then content, then folder times deepest first', () => {
    const local = snapshot(file('a/b/c/deep.txt'), dir('a/b/c'), symlink('a/b/link', 'c/deep.txt'), dir('a'), file('top.txt'), dir('a/b'));
    const result = plan({ local, remote: new Map(), baseline: new Map() });
    expect(describeOps(result.ops)).toEqual([
      'mkdir a',
      'mkdir a/b',
      'mkdir a/b/c',
      'write top.txt',
      'symlink a/b/link',
      'write a/b/c/deep.txt',
      'meta a/b/c',
      'meta a/b',
      'meta a',
    ]);
    expect(result.agreed).toEqual([]);
  });

  it('orders ops: renames, deletes deepest first, mkdirs shallowest first, writes, file metas, dir metas deepest first', () => {
    const oldBin = file('old.bin', { size: 5_000_000 });
    const world = getSyncedWorld(
      oldBin,
      dir('gone'),
      dir('gone/deep'),
      file('gone/deep/x.txt'),
      file('edit.txt'),
      file('run.sh'),
      dir('k'),
      dir('k/l'),
      dir('k/l/keep'),
    );
    // Locally: old.bin moved, gone/ removed, edit.txt edited, run.sh made executable, k/l/keep/ touched, new/ added.
    world.local.delete('old.bin');
    world.local.set('moved.bin', moved(oldBin, 'moved.bin'));
    for (const path of ['gone', 'gone/deep', 'gone/deep/x.txt']) world.local.delete(path);
    world.local.set('edit.txt', change(file('edit.txt'), { size: 11 }));
    world.local.set('run.sh', change(getRecord(world, 'run.sh').local, { mode: 0o755 }));
    world.local.set('k/l/keep', change(getRecord(world, 'k/l/keep').local, { mtimeNs: MTIME + 3_000_000_000n }));
    for (const entry of [dir('new'), dir('new/sub'), file('new/sub/f.txt')]) world.local.set(entry.path, entry);

    const result = plan(world);
    expect(describeOps(result.ops)).toEqual([
      'rename old.bin→moved.bin',
      'delete gone/deep/x.txt',
      'delete gone/deep',
      'delete gone',
      'mkdir new',
      'mkdir new/sub',
      'write edit.txt',
      'write new/sub/f.txt',
      'meta run.sh',
      'meta k/l/keep',
      'meta new/sub',
      'meta new',
    ]);
    expect(result.deleteCount).toBe(3);
  });

  it('keeps folders before their content and folder times after it, whatever order the snapshots were built in', () => {
    const tree = [dir('a'), dir('a/b'), file('a/b/f'), dir('a/b/c'), file('a/g'), dir('z'), file('z/h')];
    const gone = getSyncedWorld(dir('old'), dir('old/sub'), file('old/sub/x'), file('old/y'));
    for (const entries of [tree, [...tree].reverse()]) {
      const world: World = { local: snapshot(...entries), remote: gone.remote, baseline: gone.baseline };
      const ops = plan(world).ops;
      const at = (kind: PushOp['kind'], path: string): number => {
        const index = ops.findIndex((op) => op.kind === kind && op.path === path);
        if (index === -1) throw new Error(`no ${kind} ${path} in ${describeOps(ops).join(', ')}`);
        return index;
      };
      expect(at('mkdir', 'a')).toBeLessThan(at('mkdir', 'a/b'));
      expect(at('mkdir', 'a/b')).toBeLessThan(at('mkdir', 'a/b/c'));
      expect(at('mkdir', 'a/b/c')).toBeLessThan(at('write', 'a/g'));
      expect(at('write', 'a/b/f')).toBeLessThan(at('meta', 'a/b/c'));
      expect(at('meta', 'a/b/c')).toBeLessThan(at('meta', 'a/b'));
      expect(at('meta', 'a/b')).toBeLessThan(at('meta', 'a'));
      expect(at('meta', 'a/b')).toBeLessThan(at('meta', 'z'));
      expect(at('delete', 'old/sub/x')).toBeLessThan(at('delete', 'old/sub'));
      expect(at('delete', 'old/sub')).toBeLessThan(at('delete', 'old'));
      expect(at('delete', 'old/y')).toBeLessThan(at('delete', 'old'));
      expect(at('delete', 'old')).toBeLessThan(at('mkdir', 'a'));
    }
  });

  it('deletes what was deleted locally, expecting what the baseline recorded at the destination', () => {
    const world = getSyncedWorld(file('a.txt'), file('b.txt'));
    world.local.delete('a.txt');
    const result = plan(world);
    expect(result.ops).toEqual([{ kind: 'delete', path: 'a.txt', expect: getRecord(world, 'a.txt').remote }]);
    expect(result.deleteCount).toBe(1);
    expect(result.unchanged).toEqual(['b.txt']);
  });

  it('keeps files that exist only at the destination, unless deleteExtraneous', () => {
    const extra = file('only-there.txt');
    const world: World = { local: new Map(), remote: snapshot(extra), baseline: new Map() };
    const kept = plan(world);
    expect(kept.ops).toEqual([]);
    expect(kept.deleteCount).toBe(0);
    expect(kept.agreed).toEqual([]);
    expect(kept.forgotten).toEqual([]);

    const deleted = plan(world, { deleteExtraneous: true });
    expect(deleted.ops).toEqual([{ kind: 'delete', path: 'only-there.txt', expect: extra }]);
    expect(deleted.deleteCount).toBe(1);
  });

  it('counts the delete of a kind change: a folder replaced by a file deletes its content first', () => {
    const world = getSyncedWorld(dir('a'), file('a/x.txt'), file('a/y.txt'));
    world.local.clear();
    world.local.set('a', file('a'));
    const result = plan(world);
    expect(describeOps(result.ops.slice(0, 3)).sort()).toEqual(['delete a/x.txt', 'delete a/y.txt', 'delete a'].sort());
    expect(describeOps(result.ops.slice(2))).toEqual(['delete a', 'write a']);
    expect(result.deleteCount).toBe(3);
  });

  it('a file replaced by a folder: delete, mkdir, its content, then its times', () => {
    const world = getSyncedWorld(file('a'));
    world.local.clear();
    for (const entry of [dir('a'), file('a/inner.txt')]) world.local.set(entry.path, entry);
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['delete a', 'mkdir a', 'write a/inner.txt', 'meta a']);
    expect(result.ops[0]).toEqual({ kind: 'delete', path: 'a', expect: getRemote(world, 'a') });
    expect(result.deleteCount).toBe(1);
  });

  it('forgets paths gone from both sides', () => {
    const world = getSyncedWorld(file('both-gone.txt'), file('stays.txt'));
    world.local.delete('both-gone.txt');
    world.remote.delete('both-gone.txt');
    const result = plan(world);
    expect(result.ops).toEqual([]);
    expect(result.forgotten).toEqual(['both-gone.txt']);
    expect(result.unchanged).toEqual(['stays.txt']);
  });

  it('lists agreed paths that are equal without a baseline, refreshing it with both entries', () => {
    const local = file('same.txt');
    const remote = copyOf(local);
    const result = plan({ local: snapshot(local), remote: snapshot(remote), baseline: new Map() });
    expect(result.ops).toEqual([]);
    expect(result.agreed).toEqual([['same.txt', { local, remote }]]);
  });

  it('does not list a path with ops as agreed or forgotten', () => {
    const world = getSyncedWorld(file('a.txt'));
    world.local.set('a.txt', change(getRecord(world, 'a.txt').local, { size: 1 }));
    const result = plan(world);
    expect(describeOps(result.ops)).toEqual(['write a.txt']);
    expect(result.agreed).toEqual([]);
    expect(result.forgotten).toEqual([]);
  });

  describe('content hashes', () => {
    function getDoubtfulWorld(): World {
      // Whole-second mtimes on both sides (a FAT volume, a tar without sub-second times).
      const doubt = file('doubt.txt', { mtimeNs: WHOLE_SECOND });
      const other = file('other.txt', { mtimeNs: WHOLE_SECOND, size: 1 });
      return {
        local: snapshot(doubt, other, file('clear.txt')),
        remote: snapshot(copyOf(doubt), copyOf(other, { size: 2 })),
        baseline: new Map(),
      };
    }

    it('lists paths in doubt in needHashes, plans no op for them, and does not call them agreed', () => {
      const result = plan(getDoubtfulWorld(), { verifyContent: true });
      expect(result.needHashes).toEqual(['doubt.txt']);
      expect(describeOps(result.ops)).toEqual(['write clear.txt', 'write other.txt']);
      expect(result.agreed).toEqual([]);
    });

    it('without verifyContent, sends paths in doubt instead of hashing them', () => {
      const result = plan(getDoubtfulWorld());
      expect(result.needHashes).toEqual([]);
      expect(describeOps(result.ops)).toEqual(['write clear.txt', 'write doubt.txt', 'write other.txt']);
    });

    it('re-planned with equal hashes and equal times: nothing to send, and agreed', () => {
      const world = getDoubtfulWorld();
      const hashes = { local: new Map([['doubt.txt', 'h1']]), remote: new Map([['doubt.txt', 'h1']]) };
      const result = plan(world, { verifyContent: true, hashes });
      expect(result.needHashes).toEqual([]);
      expect(describeOps(result.ops)).toEqual(['write clear.txt', 'write other.txt']);
      expect(result.agreed.map(([path]) => path)).toEqual(['doubt.txt']);
    });

    it('re-planned with different hashes: write', () => {
      const hashes = { local: new Map([['doubt.txt', 'h1']]), remote: new Map([['doubt.txt', 'h2']]) };
      const result = plan(getDoubtfulWorld(), { verifyContent: true, hashes });
      expect(result.needHashes).toEqual([]);
      expect(describeOps(result.ops)).toEqual(['write clear.txt', 'write doubt.txt', 'write other.txt']);
    });

    it('re-planned with a hash missing on one side: still in doubt', () => {
      const hashes = { local: new Map([['doubt.txt', 'h1']]), remote: new Map<string, string | null>() };
      const result = plan(getDoubtfulWorld(), { verifyContent: true, hashes });
      expect(result.needHashes).toEqual(['doubt.txt']);
    });
  });

  describe('live mode (`paths`)', () => {
    function getEditedWorld(): World {
      const world = getSyncedWorld(file('a.txt'), file('b.txt'), file('c.txt'));
      for (const path of ['a.txt', 'b.txt', 'c.txt']) {
        world.local.set(path, change(getRecord(world, path).local, { size: 99 }));
      }
      return world;
    }

    it('plans only the paths given', () => {
      const result = plan(getEditedWorld(), { paths: ['b.txt'] });
      expect(describeOps(result.ops)).toEqual(['write b.txt']);
      expect(result.agreed).toEqual([]);
    });

    it('plans a path given twice once', () => {
      const result = plan(getEditedWorld(), { paths: ['c.txt', 'a.txt', 'c.txt'] });
      expect(describeOps(result.ops)).toEqual(['write a.txt', 'write c.txt']);
    });

    it('accepts any iterable of paths', () => {
      const result = plan(getEditedWorld(), { paths: new Set(['a.txt']) });
      expect(describeOps(result.ops)).toEqual(['write a.txt']);
    });

    it('deletes a path the watcher reported gone, and forgets one that is nowhere', () => {
      const world = getEditedWorld();
      world.local.delete('a.txt');
      const result = plan(world, { paths: ['a.txt', 'never-existed.txt'] });
      expect(result.ops).toEqual([{ kind: 'delete', path: 'a.txt', expect: getRecord(world, 'a.txt').remote }]);
      expect(result.forgotten).toEqual(['never-existed.txt']);
    });

    it('an empty path list plans nothing even when everything changed', () => {
      const result = plan(getEditedWorld(), { paths: [] });
      expect(result).toEqual({ ops: [], needHashes: [], deleteCount: 0, agreed: [], unchanged: [], forgotten: [] });
    });
  });

  it('does not change its inputs', () => {
    const world = getSyncedWorld(dir('d'), file('d/x'), file('y'));
    const dEntry = getRecord(world, 'd').local;
    world.local.delete('d');
    world.local.delete('d/x');
    world.local.set('e', moved(dEntry, 'e'));
    world.local.set('e/x', moved(getRecord(world, 'd/x').local, 'e/x'));
    const before = structuredClone(world);
    plan(world);
    expect(world).toEqual(before);
  });
});
