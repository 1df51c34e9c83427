import { lstatSync, utimesSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { toUtimesSeconds } from './fs-helpers.js';

function readTimes(folder: string): BigIntStats | null {
  try {
    return lstatSync(folder, { bigint: true });
  } catch {
    return null;
  }
}

function restoreTimes(folder: string, before: BigIntStats | null): void {
  if (!before) return;
  try {
    utimesSync(folder, toUtimesSeconds(before.atimeNs), toUtimesSeconds(before.mtimeNs));
  } catch {
    // The folder went away meanwhile; nothing to keep.
  }
}

/**
 * Keeps folder times where the source set them while files change inside: folder times follow the
 * source (which sets them explicitly, after the content), not the order in which we happened to
 * write. Operations in one folder overlap (the daemon runs them concurrently), so the times are
 * read when the first one starts and put back when the last one ends; reading them per operation
 * could pick up a sibling's temporary file and put that back last.
 */
export class FolderTimesKeeper {
  private static readonly byRoot = new Map<string, FolderTimesKeeper>();

  /**
   * One keeper per destination folder, shared by every session on it: a session whose client just
   * left may still be finishing a write while the reconnected client sets folder times.
   */
  static forRoot(root: string): FolderTimesKeeper {
    let keeper = FolderTimesKeeper.byRoot.get(root);
    if (!keeper) {
      keeper = new FolderTimesKeeper();
      FolderTimesKeeper.byRoot.set(root, keeper);
    }
    return keeper;
  }

  private readonly held = new Map<string, { count: number; times: BigIntStats | null }>();

  /** Call before changing something in the folder of `target`; call the returned function after. */
  hold(target: string): () => void {
    const folder = dirname(target);
    const known = this.held.get(folder);
    if (known) known.count += 1;
    else this.held.set(folder, { count: 1, times: readTimes(folder) });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const entry = this.held.get(folder);
      if (!entry || --entry.count > 0) return;
      this.held.delete(folder);
      restoreTimes(folder, entry.times);
    };
  }

  /**
   * The folder's times were just set on purpose (a client's `meta`): what is put back later is
   * those, not the ones read before.
   */
  refresh(folder: string): void {
    const entry = this.held.get(folder);
    if (entry) entry.times = readTimes(folder);
  }

  /** Runs a change touching several folders without moving their own times. */
  keepAll<T>(targets: readonly string[], change: () => T): T {
    const releases = targets.map((target) => this.hold(target));
    try {
      return change();
    } finally {
      for (const release of releases) release();
    }
  }

  /** Runs a change inside a folder without moving the folder's own times. */
  keep<T>(target: string, change: () => T): T {
    const release = this.hold(target);
    try {
      return change();
    } finally {
      release();
    }
  }
}
