import { fstatSync, futimesSync, type BigIntStats } from 'node:fs';
import type { ConfinedRoot, OpenFolder } from './confined-fs.js';
import { toUtimesSeconds } from './fs-helpers.js';

/** The folder a relative path is in ('' for the root). */
function getParent(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
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

  private constructor(private readonly confined: ConfinedRoot) {}

  /**
   * One keeper per destination folder, shared by every session on it: a session whose client just
   * left may still be finishing a write while the reconnected client sets folder times.
   */
  static forRoot(confined: ConfinedRoot): FolderTimesKeeper {
    let keeper = FolderTimesKeeper.byRoot.get(confined.root);
    if (!keeper) {
      keeper = new FolderTimesKeeper(confined);
      FolderTimesKeeper.byRoot.set(confined.root, keeper);
    }
    return keeper;
  }

  /** Read and put back through the confined walk: a folder swapped for a symlink is left alone. */
  private readTimes(folder: string): BigIntStats | null {
    try {
      return this.confined.inFolder(folder, false, (open) => fstatSync(open.fd, { bigint: true }));
    } catch {
      return null;
    }
  }

  private restoreTimes(folder: string, before: BigIntStats | null): void {
    if (!before) return;
    try {
      this.confined.inFolder(folder, false, (open) =>
        futimesSync(open.fd, toUtimesSeconds(before.atimeNs), toUtimesSeconds(before.mtimeNs)),
      );
    } catch {
      // The folder went away meanwhile; nothing to keep.
    }
  }

  private readonly held = new Map<string, { count: number; times: BigIntStats | null }>();

  /**
   * Call before changing something in the folder of `target` (relative to the root); call the
   * returned function after.
   */
  hold(target: string): () => void {
    const folder = getParent(target);
    const known = this.held.get(folder);
    if (known) known.count += 1;
    else this.held.set(folder, { count: 1, times: this.readTimes(folder) });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const entry = this.held.get(folder);
      if (!entry || --entry.count > 0) return;
      this.held.delete(folder);
      this.restoreTimes(folder, entry.times);
    };
  }

  /**
   * The folder's times were just set on purpose (a client's `meta`): what is put back later is
   * those, not the ones read before.
   */
  refresh(folder: string): void {
    const entry = this.held.get(folder);
    if (entry) entry.times = this.readTimes(folder);
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

  /**
   * Runs a change inside `open`, the folder of `target` already open, without moving the folder's
   * times: read and put back through that descriptor, with no walk of their own. The change must
   * be synchronous, so no other operation can start in the folder meanwhile; one running there
   * already holds the times and puts them back when it ends.
   */
  keepIn<T>(target: string, open: OpenFolder, change: () => T): T {
    if (this.held.has(getParent(target))) return change();
    const before = fstatSync(open.fd, { bigint: true });
    try {
      return change();
    } finally {
      futimesSync(open.fd, toUtimesSeconds(before.atimeNs), toUtimesSeconds(before.mtimeNs));
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
