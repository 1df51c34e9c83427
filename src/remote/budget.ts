/**
 * What all of the daemon's connections hold together (limits.ts, DAEMON_LIMITS): files open for
 * writing, bytes received and not yet applied, and turns to run an operation. One budget per daemon,
 * shared by its sessions, so that many connections cannot do together what one may not.
 */
import { DAEMON_LIMITS } from './limits.js';

/** A counting semaphore with a queue: `run` waits for a free slot, first come first served. */
export class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used += 1;
    try {
      return await work();
    } finally {
      // The slot goes straight to the next in line, so a newcomer cannot jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.used -= 1;
    }
  }
}

export class DaemonBudget {
  openWrites = 0;
  private buffered = 0;
  readonly running = new Slots(DAEMON_LIMITS.runningOps);
  /** Sessions that stopped reading because the total was over; told when it is back under half. */
  private readonly listeners = new Set<() => void>();

  get bufferedBytes(): number {
    return this.buffered;
  }

  get isOverBuffered(): boolean {
    return this.buffered >= DAEMON_LIMITS.bufferedBytes;
  }

  get isUnderHalfBuffered(): boolean {
    return this.buffered < DAEMON_LIMITS.bufferedBytes / 2;
  }

  addBuffered(bytes: number): void {
    this.buffered += bytes;
  }

  releaseBuffered(bytes: number): void {
    const wasOver = !this.isUnderHalfBuffered;
    this.buffered -= bytes;
    if (wasOver && this.isUnderHalfBuffered) for (const listener of [...this.listeners]) listener();
  }

  onBufferedLow(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
