/**
 * The decision for one path in push mode, as a pure function of its three states: local (L),
 * remote (R) and the last agreed baseline (B).
 */
import { hasCoarseMtime, hasSameMtime, isSameStat, type Entry } from '../entry.js';
import type { BaselineRecord, Op } from './types.js';

export interface PathStates {
  local: Entry | undefined;
  remote: Entry | undefined;
  base: BaselineRecord | undefined;
}

export interface DecideOptions {
  deleteExtraneous: boolean;
  verifyContent: boolean;
  localHash?: string | null | undefined;
  remoteHash?: string | null | undefined;
}

/** `'hash'` means: cannot tell without comparing content hashes. */
export type Decision = Op[] | 'hash';

/** A new folder also gets its times set once its content is in (see getOpRank in plan-push.ts). */
function getCreateOps(local: Entry): Op[] {
  if (local.kind !== 'dir') return [getCreateOp(local)];
  return [getCreateOp(local), { kind: 'meta', path: local.path, entry: local }];
}

function getCreateOp(local: Entry): Op {
  if (local.kind === 'dir') return { kind: 'mkdir', path: local.path, entry: local };
  if (local.kind === 'symlink') return { kind: 'symlink', path: local.path, entry: local };
  return { kind: 'write', path: local.path, entry: local };
}

function decideSameKind(local: Entry, remote: Entry, options: DecideOptions): Decision {
  const meta: Op = { kind: 'meta', path: local.path, entry: local };
  switch (local.kind) {
    case 'dir':
      return local.mode !== remote.mode || !hasSameMtime(local, remote) ? [meta] : [];
    case 'symlink':
      if (local.target !== remote.target) return [getCreateOp(local)];
      return hasSameMtime(local, remote) ? [] : [meta];
    case 'file': {
      if (local.size !== remote.size) return [getCreateOp(local)];
      // Nanosecond mtimes that agree mean the same content; whole-second ones prove nothing
      // (rsync's quick check misses a same-size edit within the same second).
      const trustMtime = hasSameMtime(local, remote) && !(hasCoarseMtime(local) && hasCoarseMtime(remote));
      if (trustMtime) return local.mode !== remote.mode ? [meta] : [];
      if (!options.verifyContent) return [getCreateOp(local)];
      if (options.localHash === undefined || options.remoteHash === undefined) return 'hash';
      const sameContent = options.localHash !== null && options.localHash === options.remoteHash;
      return sameContent ? [meta] : [getCreateOp(local)];
    }
  }
}

export function decidePush({ local, remote, base }: PathStates, options: DecideOptions): Decision {
  if (local && remote) {
    if (base && isSameStat(local, base.local) && isSameStat(remote, base.remote)) return [];
    if (local.kind !== remote.kind) {
      return [{ kind: 'delete', path: remote.path, expect: remote }, ...getCreateOps(local)];
    }
    return decideSameKind(local, remote, options);
  }
  if (local) return getCreateOps(local);
  if (remote && base) {
    // Guard against the remote having changed since we synced it: the daemon keeps a copy then.
    return [{ kind: 'delete', path: remote.path, expect: base.remote }];
  }
  if (remote && options.deleteExtraneous) return [{ kind: 'delete', path: remote.path, expect: remote }];
  return [];
}
