/**
 * Turns a stream of changed paths into batches: a batch closes after a short quiet time, or after a
 * longer one under a steady stream, so a burst (a branch switch) is planned once, not per file.
 */

/** Quiet time that closes a batch, and the longest a batch may stay open under a steady stream. */
const SETTLE_MS = 15;
const MAX_BATCH_MS = 150;

export interface Batcher {
  add(path: string): void;
  /** Hands over what is pending now. */
  flush(): void;
}

export function createBatcher(onBatch: (paths: Set<string>) => void): Batcher {
  let pending = new Set<string>();
  let settleTimer: NodeJS.Timeout | null = null;
  let batchTimer: NodeJS.Timeout | null = null;

  const flush = (): void => {
    if (settleTimer) clearTimeout(settleTimer);
    if (batchTimer) clearTimeout(batchTimer);
    settleTimer = batchTimer = null;
    const batch = pending;
    pending = new Set();
    if (batch.size > 0) onBatch(batch);
  };

  return {
    add(path) {
      pending.add(path);
      if (settleTimer) clearTimeout(settleTimer);
      settleTimer = setTimeout(flush, SETTLE_MS);
      batchTimer ??= setTimeout(flush, MAX_BATCH_MS);
    },
    flush,
  };
}
