/**
 * The three-way decision, table-driven: every situation of one path (what changed on which side
 * since the last agreed state) in every mode, as Mutagen's reconcile tests do. An outcome is written
 * as `side:kind` per op (`!` after a guarded op that refuses on change, `~` after one that keeps a
 * changed target as a copy), and `conflict:<winner>` when the path changed on both sides.
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/shared/entry.js';
import { decide, type DecideOptions, type PathStates } from '../../../src/shared/plan/decide.js';
import type { BaselineRecord, Op } from '../../../src/shared/plan/types.js';
import type { ConflictPolicy, SyncMode } from '../../../src/shared/sync-mode.js';
import { MTIME, agreedRecord, change, copyOf, dir, file, symlink } from '../../helpers/entries.js';

const NOW = new Date(Date.UTC(2026, 11, 3, 12, 0, 0));

function getOptions(mode: SyncMode, policy: ConflictPolicy = 'keep-both', extra: Partial<DecideOptions> = {}): DecideOptions {
  return { mode, policy, deleteExtraneous: false, verifyContent: true, hosts: { local: 'laptop', remote: 'devbox' }, now: NOW, ...extra };
}

function describeOp(op: Op): string {
  const guard = 'guard' in op && op.guard ? (op.guard.ifChanged === 'refuse' ? '!' : '~') : '';
  const keep = 'keepAs' in op && op.keepAs ? '+copy' : '';
  return `${op.side}:${op.kind}${guard}${keep}`;
}

function run(states: PathStates, options: DecideOptions): string[] | 'hash' {
  const decision = decide(states, options);
  if (decision === 'hash') return 'hash';
  const out = decision.ops.map(describeOp);
  if (decision.conflict) out.push(`conflict:${decision.conflict.winner ?? 'none'}`);
  return out;
}

interface Situation {
  name: string;
  states: () => PathStates;
  push: string[];
  pull: string[];
  bidirectional: string[] | 'hash';
}

const older = MTIME;
const newer = MTIME + 5_000_000_000n;

/** A synced file (B), and what each side may have done to it since. */
function synced(): { base: BaselineRecord; local: Entry; remote: Entry } {
  const base = agreedRecord(file('p', { size: 10 }));
  return { base, local: base.local, remote: base.remote };
}

const edited = (entry: Entry, mtimeNs: bigint, size = 20): Entry => change(entry, { size, mtimeNs });

const FILE_SITUATIONS: Situation[] = [
  {
    name: 'new on the local side only',
    states: () => ({ local: file('p'), remote: undefined, base: undefined }),
    push: ['remote:write~'],
    pull: [],
    bidirectional: ['remote:write!'],
  },
  {
    name: 'new at the destination only',
    states: () => ({ local: undefined, remote: file('p'), base: undefined }),
    push: [],
    pull: ['local:write~'],
    bidirectional: ['local:write!'],
  },
  {
    name: 'unchanged on both sides',
    states: () => {
      const { base, local, remote } = synced();
      return { local, remote, base };
    },
    push: [],
    pull: [],
    bidirectional: [],
  },
  {
    name: 'edited locally',
    states: () => {
      const { base, local, remote } = synced();
      return { local: edited(local, newer), remote, base };
    },
    push: ['remote:write~'],
    // The local side follows the destination: the edit is undone, and kept as a copy (guard `~`).
    pull: ['local:write~'],
    bidirectional: ['remote:write!'],
  },
  {
    name: 'edited locally to the size and time the destination has (a save in the same kernel tick)',
    states: () => {
      const { base, local, remote } = synced();
      return { local: change(local, { mtimeNs: remote.mtimeNs, ino: '77' }), remote, base };
    },
    // One-way, the same size and mtime as our copy mean that copy.
    push: [],
    pull: [],
    bidirectional: 'hash',
  },
  {
    name: 'edited at the destination',
    states: () => {
      const { base, local, remote } = synced();
      return { local, remote: edited(remote, newer), base };
    },
    push: ['remote:write~'],
    pull: ['local:write~'],
    bidirectional: ['local:write!'],
  },
  {
    name: 'deleted locally',
    states: () => {
      const { base, remote } = synced();
      return { local: undefined, remote, base };
    },
    push: ['remote:delete~'],
    pull: ['local:write~'],
    bidirectional: ['remote:delete!'],
  },
  {
    name: 'deleted at the destination',
    states: () => {
      const { base, local } = synced();
      return { local, remote: undefined, base };
    },
    push: ['remote:write~'],
    pull: ['local:delete~'],
    bidirectional: ['local:delete!'],
  },
  {
    name: 'deleted on both sides',
    states: () => ({ local: undefined, remote: undefined, base: synced().base }),
    push: [],
    pull: [],
    bidirectional: [],
  },
  {
    name: 'edited on both sides, the destination later',
    states: () => {
      const { base, local, remote } = synced();
      return { local: edited(local, older + 1000n), remote: edited(remote, newer, 30), base };
    },
    push: ['remote:write~'],
    pull: ['local:write~'],
    bidirectional: ['local:write!+copy', 'conflict:remote'],
  },
  {
    name: 'edited on both sides, locally later',
    states: () => {
      const { base, local, remote } = synced();
      return { local: edited(local, newer), remote: edited(remote, older + 1000n, 30), base };
    },
    push: ['remote:write~'],
    pull: ['local:write~'],
    bidirectional: ['remote:write!+copy', 'conflict:local'],
  },
  {
    name: 'the same size and time on both sides after edits on both (only hashes can tell two edits apart)',
    states: () => {
      const { base, local, remote } = synced();
      return { local: edited(local, newer), remote: edited(remote, newer), base };
    },
    push: [],
    pull: [],
    bidirectional: 'hash',
  },
  {
    name: 'edited locally, deleted at the destination: the edit is kept',
    states: () => {
      const { base, local } = synced();
      return { local: edited(local, newer), remote: undefined, base };
    },
    push: ['remote:write~'],
    pull: ['local:delete~'],
    bidirectional: ['remote:write!'],
  },
  {
    name: 'deleted locally, edited at the destination: the edit is kept',
    states: () => {
      const { base, remote } = synced();
      return { local: undefined, remote: edited(remote, newer), base };
    },
    push: ['remote:delete~'],
    pull: ['local:write~'],
    bidirectional: ['local:write!'],
  },
  {
    name: 'never synced, different on each side (a first sync)',
    states: () => ({ local: file('p', { size: 1, mtimeNs: older }), remote: file('p', { size: 2, mtimeNs: newer }), base: undefined }),
    push: ['remote:write~'],
    pull: ['local:write~'],
    bidirectional: ['local:write!+copy', 'conflict:remote'],
  },
  {
    name: 'never synced, the same size and time on each side',
    states: () => {
      const local = file('p');
      return { local, remote: copyOf(local), base: undefined };
    },
    push: [],
    pull: [],
    bidirectional: 'hash',
  },
];

const KIND_SITUATIONS: Situation[] = [
  {
    name: 'a file locally, a folder at the destination, both new: the folder is never given up',
    states: () => ({ local: file('p', { mtimeNs: newer }), remote: dir('p', { mtimeNs: older }), base: undefined }),
    push: ['remote:delete~', 'remote:write~'],
    pull: ['local:delete~', 'local:mkdir', 'local:meta'],
    // The file is moved aside under its conflict name.
    bidirectional: ['local:rename', 'local:mkdir', 'local:meta', 'conflict:remote'],
  },
  {
    name: 'a link locally, a file at the destination, both new, the file later',
    states: () => ({ local: symlink('p', 'x', { mtimeNs: older }), remote: file('p', { mtimeNs: newer }), base: undefined }),
    push: ['remote:delete~', 'remote:symlink~'],
    pull: ['local:delete~', 'local:write~'],
    // The loser is moved aside under its conflict name, then the winner takes its place.
    bidirectional: ['local:rename', 'local:write!', 'conflict:remote'],
  },
  {
    name: 'a folder new at the destination',
    states: () => ({ local: undefined, remote: dir('p'), base: undefined }),
    push: [],
    pull: ['local:mkdir', 'local:meta'],
    bidirectional: ['local:mkdir', 'local:meta'],
  },
  {
    name: 'a folder whose times changed on both sides: the later times win, no conflict',
    states: () => {
      const base = agreedRecord(dir('p'));
      return { local: change(base.local, { mtimeNs: older + 7n }), remote: change(base.remote, { mtimeNs: newer }), base };
    },
    push: ['remote:meta'],
    pull: ['local:meta'],
    bidirectional: ['local:meta'],
  },
  {
    name: 'a link retargeted at the destination',
    states: () => {
      const base = agreedRecord(symlink('p', 'a'));
      return { local: base.local, remote: change(base.remote, { target: 'b', mtimeNs: newer }), base };
    },
    push: ['remote:symlink~'],
    pull: ['local:symlink~'],
    bidirectional: ['local:symlink!'],
  },
];

describe('decide: every situation in every mode', () => {
  for (const situation of [...FILE_SITUATIONS, ...KIND_SITUATIONS]) {
    for (const mode of ['push', 'pull', 'bidirectional'] as const) {
      it(`${mode}: ${situation.name}`, () => {
        expect(run(situation.states(), getOptions(mode))).toEqual(situation[mode]);
      });
    }
  }
});

describe('decide: conflict policies (edited on both sides, the destination later)', () => {
  const states = (): PathStates => {
    const { base, local, remote } = synced();
    return { local: edited(local, older + 1000n), remote: edited(remote, newer, 30), base };
  };
  const table: [ConflictPolicy, string[]][] = [
    ['keep-both', ['local:write!+copy', 'conflict:remote']],
    // The replaced version goes into the history of its side (every overwrite does): no copy here.
    ['newest', ['local:write!', 'conflict:remote']],
    ['local', ['remote:write!', 'conflict:local']],
    ['remote', ['local:write!', 'conflict:remote']],
    // Both stay; nothing is changed on either side; the path is listed.
    ['manual', ['conflict:none']],
  ];
  it.each(table)('%s', (policy, expected) => {
    expect(run(states(), getOptions('bidirectional', policy))).toEqual(expected);
  });

  it('keep-both names the copy after the losing side, with the plan time, in the same folder', () => {
    const base = agreedRecord(file('src/app.ts'));
    const decision = decide(
      { local: edited(base.local, newer), remote: edited(base.remote, older + 1000n, 30), base },
      getOptions('bidirectional'),
    );
    if (decision === 'hash') throw new Error('unexpected hash');
    expect(decision.conflict?.keptAs).toBe('src/app.sicksync-conflict-20261203-120000-devbox.ts');
    expect(decision.ops).toEqual([
      expect.objectContaining({ kind: 'write', side: 'remote', keepAs: 'src/app.sicksync-conflict-20261203-120000-devbox.ts' }),
    ]);
  });

  it('guards a two-way overwrite with what the plan saw at the target, so a later edit there is not overwritten', () => {
    const { base, local, remote } = synced();
    const there = edited(remote, newer);
    const decision = decide({ local, remote: there, base }, getOptions('bidirectional'));
    if (decision === 'hash') throw new Error('unexpected hash');
    expect(decision.ops[0]).toMatchObject({ side: 'local', guard: { expect: local, ifChanged: 'refuse' } });
  });

  it('asks for hashes when both sides changed to the same size with other times, before calling it a conflict', () => {
    const { base, local, remote } = synced();
    const states = { local: edited(local, older + 1000n), remote: edited(remote, newer), base };
    expect(run(states, getOptions('bidirectional', 'keep-both', { verifyContent: true }))).toBe('hash');
    const same = getOptions('bidirectional', 'keep-both', { verifyContent: true, localHash: 'h', remoteHash: 'h' });
    expect(run(states, same)).toEqual(['local:meta']);
    const different = getOptions('bidirectional', 'keep-both', { verifyContent: true, localHash: 'h', remoteHash: 'g' });
    expect(run(states, different)).toEqual(['local:write!+copy', 'conflict:remote']);
  });
});
