/**
 * Runs a client's operations concurrently where that cannot change the outcome: an operation waits
 * only for earlier ones on the same path, an ancestor or a descendant of it (a folder is created
 * before its files, emptied before it is removed, and gets its times after its content). Filesystem
 * calls go through libuv's thread pool, so running independent ones together is most of the speed.
 * How many run at once is bounded (limits.ts): each may hold a file open.
 */
import { isInside } from '../shared/entry.js';
import { Slots } from './budget.js';

/** What an operation touches: paths (with their ancestors and descendants) and opaque keys. */
export interface Footprint {
  paths: readonly string[];
  keys: readonly string[];
  /** Waits for everything before it, and everything after waits for it (handshake, scans). */
  barrier?: boolean;
}

interface Item {
  footprint: Footprint;
  done: Promise<void>;
}

function isRelated(a: string, b: string): boolean {
  return a === b || isInside(a, b) || isInside(b, a);
}

function conflicts(a: Footprint, b: Footprint): boolean {
  if (a.barrier || b.barrier) return true;
  if (a.keys.some((key) => b.keys.includes(key))) return true;
  return a.paths.some((path) => b.paths.some((other) => isRelated(path, other)));
}

export class OpScheduler {
  private readonly pending: Item[] = [];

  /**
   * @param running this connection's turns to run an operation
   * @param shared every connection's turns; barriers (handshake, scans, hash requests) run alone on
   *   their connection already and take none, so a client that never reads a scan cannot hold one.
   */
  constructor(
    private readonly running = new Slots(Infinity),
    private readonly shared?: Slots,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  /** Schedules `work` after every earlier conflicting operation; resolves when `work` has run. */
  schedule(footprint: Footprint, work: () => Promise<void>): Promise<void> {
    const blockers = this.pending.filter((item) => conflicts(item.footprint, footprint)).map((item) => item.done);
    const done = Promise.all(blockers).then(() => this.run(footprint, work));
    const item: Item = { footprint, done: done.catch(() => undefined) };
    this.pending.push(item);
    void item.done.then(() => this.pending.splice(this.pending.indexOf(item), 1));
    return done;
  }

  private run(footprint: Footprint, work: () => Promise<void>): Promise<void> {
    const shared = this.shared;
    return this.running.run(footprint.barrier || !shared ? work : () => shared.run(work));
  }

  /** Resolves once everything scheduled so far has run. */
  async drain(): Promise<void> {
    await Promise.all(this.pending.map((item) => item.done));
  }
}
