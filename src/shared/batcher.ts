/**
 * Turns a stream of changed paths into batches. A change after a quiet time is handed over at once
 * (on the next turn of the event loop, with whatever the same filesystem call reported along with
 * it): a lone save must not wait for a quiet window. Changes that follow it within the window are
 * a burst (a branch switch, a build): their batch closes after a short quiet time, or after a
 * longer one under a steady stream, so the burst is planned a few times, not once per file.
 *
 * Only changes that look finished go at once (`canLead`): a path that is gone (a delete, the old
 * name of a rename), a new folder, or an empty file (one just truncated to be rewritten) waits for
 * the quiet time,
 * so a rename is seen whole, a wipe-out is judged by the delete guard as one batch, and a file
 * being rewritten does not reach the destination empty first.
 */

import { lstatSync } from 'node:fs';
import { join } from 'node:path';

/** Quiet time that closes a batch, and the longest a batch may stay open under a steady stream. */
const SETTLE_MS = 15;
const MAX_BATCH_MS = 150;

export interface Batcher {
  add(path: string): void;
  /** Hands over what is pending now. */
  flush(): void;
}

export function createBatcher(onBatch: (paths: Set<string>) => void, canLead: (path: string) => boolean = () => true): Batcher {
  let pending = new Set<string>();
  let settleTimer: NodeJS.Timeout | null = null;
  let batchTimer: NodeJS.Timeout | null = null;
  let leadTimer: NodeJS.Immediate | null = null;
  /** When the last change came; a change later than SETTLE_MS after it starts a new burst. */
  let lastAt = -Infinity;

  const settle = (): void => {
    if (settleTimer) clearTimeout(settleTimer);
    settleTimer = setTimeout(flush, SETTLE_MS);
    batchTimer ??= setTimeout(flush, MAX_BATCH_MS);
  };

  const lead = (): void => {
    leadTimer = null;
    for (const path of pending) {
      if (!canLead(path)) return settle();
    }
    flush();
  };

  const flush = (): void => {
    if (settleTimer) clearTimeout(settleTimer);
    if (batchTimer) clearTimeout(batchTimer);
    if (leadTimer) clearImmediate(leadTimer);
    settleTimer = batchTimer = leadTimer = null;
    const batch = pending;
    pending = new Set();
    if (batch.size > 0) onBatch(batch);
  };

  return {
    add(path) {
      pending.add(path);
      const now = performance.now();
      const quietBefore = now - lastAt > SETTLE_MS;
      lastAt = now;
      if (leadTimer) return;
      if (quietBefore && !settleTimer) {
        leadTimer = setImmediate(lead);
        return;
      }
      settle();
    },
    flush,
  };
}

/**
 * `canLead` for a tree at `root`: the path is a file, and not an empty one, or a folder the tree's
 * index knows already (an event for a file also names its folder). A new folder waits for the
 * quiet time: files created in it right after would otherwise race the watcher attaching to it.
 * A path below a file (ENOTDIR) is no change at all: watchers report some events as both the file
 * and a name in it.
 */
export function createLeadCheck(root: string, isKnownFolder: (path: string) => boolean): (path: string) => boolean {
  return (path) => {
    try {
      const stats = lstatSync(join(root, path));
      return stats.isDirectory() ? isKnownFolder(path) : stats.isFile() && stats.size > 0;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOTDIR';
    }
  };
}
