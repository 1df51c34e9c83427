import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/shared/entry.js';
import { decide, type PathStates } from '../../../src/shared/plan/decide.js';
import type { BaselineRecord, Op } from '../../../src/shared/plan/types.js';
import { MTIME, WHOLE_SECOND, agreedRecord, change, copyOf, dir, file, symlink } from '../../helpers/entries.js';

/**
 * Push mode of the three-way decision, in the shape these cases were written in: the side is always
 * the destination, and a delete's guard is the `expect` it carries (test/shared/plan/decide.test.ts
 * covers guards and the other modes).
 */
interface DecideOptions {
  deleteExtraneous: boolean;
  verifyContent: boolean;
  localHash?: string | null;
  remoteHash?: string | null;
}
type PushOp = { kind: Op['kind']; path: string; entry?: unknown; expect?: unknown };
type Decision = PushOp[] | 'hash';

function decidePush(states: PathStates, options: DecideOptions): Decision {
  const decision = decide(states, {
    mode: 'push',
    policy: 'keep-both',
    hosts: { local: 'here', remote: 'there' },
    now: new Date(0),
    ...options,
  });
  if (decision === 'hash') return 'hash';
  return decision.ops.map((op) => {
    if (op.side !== 'remote') throw new Error(`push changed the ${op.side} side`);
    if (op.kind === 'delete') return { kind: op.kind, path: op.path, expect: op.guard.expect };
    return { kind: op.kind, path: op.path, entry: op.entry, ...(op.kind === 'rename' ? { from: op.from } : {}) };
  });
}

const PLAIN: DecideOptions = { deleteExtraneous: false, verifyContent: false };
const VERIFY: DecideOptions = { deleteExtraneous: false, verifyContent: true };
const EXTRANEOUS: DecideOptions = { deleteExtraneous: true, verifyContent: false };

interface Case {
  name: string;
  local?: Entry;
  remote?: Entry;
  base?: BaselineRecord;
  options?: DecideOptions;
  expected: (states: PathStates) => Decision;
}

const write = (entry: Entry) => ({ kind: 'write', path: entry.path, entry }) as const;
const mkdir = (entry: Entry) => ({ kind: 'mkdir', path: entry.path, entry }) as const;
const link = (entry: Entry) => ({ kind: 'symlink', path: entry.path, entry }) as const;
const meta = (entry: Entry) => ({ kind: 'meta', path: entry.path, entry }) as const;
const del = (path: string, expect: Entry) => ({ kind: 'delete', path, expect }) as const;

function getLocal(states: PathStates): Entry {
  if (!states.local) throw new Error('case has no local entry');
  return states.local;
}

function getRemote(states: PathStates): Entry {
  if (!states.remote) throw new Error('case has no remote entry');
  return states.remote;
}

function getBase(states: PathStates): BaselineRecord {
  if (!states.base) throw new Error('case has no baseline');
  return states.base;
}

/** The three kinds, each with the op that creates it. */
const KINDS = [
  { kind: 'file', make: (path: string) => file(path), create: (e: Entry) => [write(e)] },
  { kind: 'dir', make: (path: string) => dir(path), create: (e: Entry) => [mkdir(e), meta(e)] },
  { kind: 'symlink', make: (path: string) => symlink(path, 'target.txt'), create: (e: Entry) => [link(e)] },
] as const;

function getPresenceCases(): Case[] {
  const cases: Case[] = [];
  for (const { kind, make, create } of KINDS) {
    const local = make('p');
    const base = agreedRecord(local);
    cases.push(
      {
        name: `${kind}: L only (new) → create`,
        local,
        expected: (s) => create(getLocal(s)),
      },
      {
        name: `${kind}: L + B, R gone (deleted at the destination) → create again`,
        local,
        base,
        expected: (s) => create(getLocal(s)),
      },
      {
        name: `${kind}: R + B, L gone (deleted locally) → delete expecting B.remote`,
        // The remote changed since the baseline: `expect` must still be what we left there.
        remote: copyOf(base.remote, { mode: 0o600, mtimeNs: MTIME + 5_000_000n }),
        base,
        expected: (s) => [del('p', getBase(s).remote)],
      },
      {
        name: `${kind}: R only, never synced → kept`,
        remote: copyOf(local),
        expected: () => [],
      },
      {
        name: `${kind}: R only, never synced, deleteExtraneous → delete expecting R`,
        remote: copyOf(local),
        options: EXTRANEOUS,
        expected: (s) => [del('p', getRemote(s))],
      },
      {
        name: `${kind}: B only (gone on both sides) → nothing`,
        base,
        expected: () => [],
      },
      {
        name: `${kind}: L + R + B, both unchanged since B → nothing`,
        local,
        remote: base.remote,
        base,
        expected: () => [],
      },
      {
        name: `${kind}: L + R + B, both unchanged since B, even with verifyContent → nothing (no hashing)`,
        local,
        remote: base.remote,
        base,
        options: VERIFY,
        expected: () => [],
      },
    );
  }
  const coarse = file('w.txt', { mtimeNs: WHOLE_SECOND });
  const coarseBase = agreedRecord(coarse);
  const onVfat = file('v.txt');
  const onVfatBase = agreedRecord(onVfat, copyOf(onVfat, { mtimeNs: WHOLE_SECOND, mode: 0o755 }));
  cases.push(
    {
      name: 'file: whole-second mtimes on both sides, unchanged since B, verifyContent → nothing (B vouches, no hashing)',
      local: coarse,
      remote: coarseBase.remote,
      base: coarseBase,
      options: VERIFY,
      expected: () => [],
    },
    {
      name: 'file: destination keeps whole seconds and no modes (vfat), unchanged since B → nothing, not resent every time',
      local: onVfat,
      remote: onVfatBase.remote,
      base: onVfatBase,
      expected: () => [],
    },
  );
  cases.push({ name: 'nothing anywhere → nothing', expected: () => [] });
  return cases;
}

function getKindChangeCases(): Case[] {
  const cases: Case[] = [];
  for (const before of KINDS) {
    for (const after of KINDS) {
      if (before.kind === after.kind) continue;
      const old = before.make('p');
      const local = after.make('p');
      cases.push(
        {
          name: `kind change ${before.kind} → ${after.kind}: delete the old one, then create`,
          local,
          remote: copyOf(old),
          expected: (s) => [del('p', getRemote(s)), ...after.create(getLocal(s))],
        },
        {
          name: `kind change ${before.kind} → ${after.kind} since B: delete the old one, then create`,
          local,
          remote: copyOf(old),
          base: agreedRecord(old),
          // Guarded by what we left there: a copy changed since would be kept.
          expected: (s) => [del('p', getBase(s).remote), ...after.create(getLocal(s))],
        },
      );
    }
  }
  return cases;
}

const synced = file('f.txt', { size: 100 });
const syncedBase = agreedRecord(synced);

const FILE_CASES: Case[] = [
  {
    name: 'file: same size, mode and nanosecond mtime, no B → nothing',
    local: synced,
    remote: copyOf(synced),
    expected: () => [],
  },
  {
    name: 'file: mtime off by < 1 µs (lost by utimes when copied) → nothing',
    local: synced,
    remote: copyOf(synced, { mtimeNs: MTIME - 240n }),
    expected: () => [],
  },
  {
    name: 'file: only the mode differs → meta',
    local: change(synced, { mode: 0o755 }),
    remote: copyOf(synced),
    expected: (s) => [meta(getLocal(s))],
  },
  {
    name: 'file: size differs → write',
    local: change(synced, { size: 101 }),
    remote: copyOf(synced),
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: size differs, with verifyContent → write (no hashing needed)',
    local: change(synced, { size: 101 }),
    remote: copyOf(synced),
    options: VERIFY,
    expected: (s) => [write(getLocal(s))],
  },
  {
    // rsync's quick check compares whole seconds and would call these equal.
    name: 'file: same-size edit within the same second (mtime differs by 0.5 s) → write',
    local: change(synced, { mtimeNs: WHOLE_SECOND + 750_000_000n }),
    remote: copyOf(synced, { mtimeNs: WHOLE_SECOND + 250_000_000n }),
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: same-size edit whose mtime differs by 10 µs within the same second → write',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: same-size edit whose mtime differs by exactly 1 µs → write',
    local: change(synced, { mtimeNs: MTIME + 1_000n }),
    remote: copyOf(synced),
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: same-size edit within the same second, with verifyContent → hash',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: VERIFY,
    expected: () => 'hash',
  },
  {
    name: 'file: same-size edit since B within the same second → write',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: syncedBase.remote,
    base: syncedBase,
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: edited at the destination only (same size, same second) → write the local version back',
    local: synced,
    remote: change(syncedBase.remote, { mtimeNs: MTIME + 10_000n }),
    base: syncedBase,
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: replaced at the destination (new inode, same size and mtime) → nothing to send',
    local: synced,
    remote: copyOf(syncedBase.remote),
    base: syncedBase,
    expected: () => [],
  },
  {
    name: 'file: whole-second mtimes, equal, same size → write (they prove nothing)',
    local: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    remote: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: whole-second mtimes, equal, same size, with verifyContent → hash',
    local: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    remote: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    options: VERIFY,
    expected: () => 'hash',
  },
  {
    name: 'file: whole-second mtime on one side only, within 1 µs → trusted, nothing',
    local: file('c.txt', { mtimeNs: WHOLE_SECOND + 200n }),
    remote: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    expected: () => [],
  },
  {
    name: 'file: in doubt, equal hashes → meta only',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: 'aa', remoteHash: 'aa' },
    expected: (s) => [meta(getLocal(s))],
  },
  {
    name: 'file: in doubt, equal hashes and a new mode → one meta carrying the mode',
    local: change(synced, { mtimeNs: MTIME + 10_000n, mode: 0o700 }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: 'aa', remoteHash: 'aa' },
    expected: (s) => [meta(getLocal(s))],
  },
  {
    name: 'file: in doubt, different hashes → write',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: 'aa', remoteHash: 'bb' },
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: in doubt, whole-second mtimes, equal hashes → nothing (same content, same times, same mode)',
    local: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    remote: file('c.txt', { mtimeNs: WHOLE_SECOND }),
    options: { ...VERIFY, localHash: 'aa', remoteHash: 'aa' },
    expected: () => [],
  },
  {
    name: 'file: in doubt, no local hash (unreadable) → write',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: null, remoteHash: 'aa' },
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: in doubt, no hash on either side → write (null never equals null)',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: null, remoteHash: null },
    expected: (s) => [write(getLocal(s))],
  },
  {
    name: 'file: in doubt, only the local hash known yet → hash',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...VERIFY, localHash: 'aa' },
    expected: () => 'hash',
  },
  {
    name: 'file: in doubt, hashes given but verifyContent off → write',
    local: change(synced, { mtimeNs: MTIME + 10_000n }),
    remote: copyOf(synced),
    options: { ...PLAIN, localHash: 'aa', remoteHash: 'aa' },
    expected: (s) => [write(getLocal(s))],
  },
];

const folder = dir('d');
const DIR_CASES: Case[] = [
  { name: 'dir: same mode and mtime → nothing', local: folder, remote: copyOf(folder), expected: () => [] },
  {
    name: 'dir: mtime off by < 1 µs → nothing',
    local: folder,
    remote: copyOf(folder, { mtimeNs: MTIME + 999n }),
    expected: () => [],
  },
  {
    name: 'dir: mtime differs → meta',
    local: folder,
    remote: copyOf(folder, { mtimeNs: MTIME + 5_000n }),
    expected: (s) => [meta(getLocal(s))],
  },
  {
    name: 'dir: mode differs → meta',
    local: folder,
    remote: copyOf(folder, { mode: 0o700 }),
    expected: (s) => [meta(getLocal(s))],
  },
  {
    name: 'dir: whole-second mtimes, equal → nothing (a folder has no content to doubt)',
    local: dir('d', { mtimeNs: WHOLE_SECOND }),
    remote: dir('d', { mtimeNs: WHOLE_SECOND }),
    options: VERIFY,
    expected: () => [],
  },
];

const link1 = symlink('l', 'a/target');
const SYMLINK_CASES: Case[] = [
  { name: 'symlink: same target → nothing', local: link1, remote: copyOf(link1), expected: () => [] },
  {
    name: 'symlink: same target, other mode only → nothing (a link has no mode of its own on Linux)',
    local: link1,
    remote: copyOf(link1, { mode: 0o755 }),
    expected: () => [],
  },
  {
    name: 'symlink: same target, other mtime → meta (link times are kept, as rsync -a does)',
    local: link1,
    remote: copyOf(link1, { mtimeNs: MTIME + 7_000_000n }),
    expected: () => [{ kind: 'meta', path: link1.path, entry: link1 }],
  },
  {
    name: 'symlink: other target → symlink',
    local: link1,
    remote: copyOf(link1, { target: 'b/target' }),
    expected: (s) => [link(getLocal(s))],
  },
  {
    name: 'symlink: retargeted since B → symlink',
    local: change(link1, { target: 'c/target' }),
    remote: copyOf(link1),
    base: agreedRecord(link1),
    expected: (s) => [link(getLocal(s))],
  },
];

describe('decidePush', () => {
  it.each([...getPresenceCases(), ...getKindChangeCases(), ...FILE_CASES, ...DIR_CASES, ...SYMLINK_CASES])(
    '$name',
    ({ local, remote, base, options = PLAIN, expected }) => {
      const states: PathStates = { local, remote, base };
      expect(decidePush(states, options)).toEqual(expected(states));
    },
  );

  it('deletes with `expect` = B.remote, not what is there now, so the daemon can keep a changed copy', () => {
    const base = agreedRecord(file('p'));
    const remote = change(base.remote, { size: 999, mtimeNs: MTIME + 1n });
    const decision = decidePush({ local: undefined, remote, base }, PLAIN);
    expect(decision).toEqual([{ kind: 'delete', path: 'p', expect: base.remote }]);
    expect(decision).not.toEqual([{ kind: 'delete', path: 'p', expect: remote }]);
  });

  it('a new folder gets mkdir, then meta for its times', () => {
    const local = dir('a/b', { mode: 0o750 });
    const decision = decidePush({ local, remote: undefined, base: undefined }, PLAIN);
    expect(decision).toEqual([mkdir(local), meta(local)]);
  });

  it('regression: two files whose mtime is the epoch (mtimeNs "0"), same size, are not trusted as equal', () => {
    // A whole-second mtime proves nothing (DESIGN.md §5), and 0 ns is a whole second: archives and
    // reproducible builds set it. hasCoarseMtime looks for nine trailing zeros, which "0" lacks.
    const local = file('epoch.txt', { mtimeNs: 0n });
    const remote = file('epoch.txt', { mtimeNs: 0n });
    expect(decidePush({ local, remote, base: undefined }, VERIFY)).toBe('hash');
    expect(decidePush({ local, remote, base: undefined }, PLAIN)).toEqual([write(local)]);
  });
});
