import type { Entry, Snapshot } from '../../shared/entry.js';
import type { Op } from '../../shared/plan/types.js';

export interface OpResult {
  /** The destination's entry after the change; null when the path is gone. */
  entry: Entry | null;
  note?: string;
}

/** Thrown by `apply` when the local file changed while it was being read; it will be sent again. */
export class SourceChangedError extends Error {
  override name = 'SourceChangedError';
}

/**
 * A destination: something that can be scanned and changed. The daemon connection implements it for
 * remote and local destinations alike, so the sync core does not care which it talks to.
 */
export interface Endpoint {
  readonly description: string;
  scan(): Promise<Snapshot>;
  hash(paths: readonly string[]): Promise<Map<string, string | null>>;
  /** Applies one operation, reading file content from `localRoot`; resolves once acknowledged. */
  apply(op: Op, localRoot: string): Promise<OpResult>;
  /** Resolves once everything sent so far has been handed to the transport. */
  close(): Promise<void>;
  onClose(listener: (reason: string) => void): void;
}
