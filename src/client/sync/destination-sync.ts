/**
 * Keeps one destination following the project. Each destination has its own queue of dirty paths
 * and its own connection, so a slow or failing one never holds back the others.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isInside, type Entry, type Snapshot } from '../../shared/entry.js';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { getFileHash } from '../../shared/hash.js';
import { getPushPlan } from '../../shared/plan/plan-push.js';
import type { Baseline, BaselineRecord, PushPlan, PushPlanInput } from '../../shared/plan/types.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { applyPlan, type ApplyOutcome } from './apply-plan.js';
import type { BaselineStore } from './baseline-store.js';
import type { Reporter } from './reporter.js';
import { formatSummary } from './summary.js';

export interface DestinationOptions {
  /** Human name, e.g. `devbox:~/src/web`. */
  label: string;
  localRoot: string;
  /** The project's live index of local entries, shared by every destination. */
  local: Snapshot;
  connect: () => Promise<Endpoint>;
  store: BaselineStore;
  reporter: Reporter;
  deleteGuard: number;
  force: boolean;
  deleteExtraneous: boolean;
  /** Paths of the project it could not read: left alone at the destination (plan-push.ts). */
  isLocalUnknown?: (path: string) => boolean;
  /** Stop after the first catch-up instead of following live changes. */
  once: boolean;
}

export type DestinationState = 'connecting' | 'syncing' | 'watching' | 'retrying' | 'failed' | 'stopped';

const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

/** Errors that a later attempt may not meet: refusals that only a person can fix are not retried. */
const FATAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.DELETE_GUARD,
  ErrorCode.PROTOCOL_VERSION,
  ErrorCode.HOST_KEY,
  ErrorCode.REMOTE_NODE,
  ErrorCode.PATH_OUTSIDE_ROOT,
  ErrorCode.MODE_UNSUPPORTED,
  ErrorCode.SSH_FORWARDING,
  ErrorCode.PATH_TOO_LONG,
  ErrorCode.NAME_ENCODING,
]);

function isRetryable(error: unknown): boolean {
  return !(error instanceof SicksyncError && FATAL_CODES.has(error.code));
}

export class DestinationSync {
  state: DestinationState = 'connecting';
  /** Paths the destination refused in the last attempt, with why. */
  readonly failures = new Map<string, SicksyncError>();
  fatal: SicksyncError | null = null;
  private endpoint: Endpoint | null = null;
  private baseline: Baseline = new Map();
  private readonly dirty = new Set<string>();
  private needsCatchUp = true;
  private stopping = false;
  private wake: (() => void) | null = null;
  private baselineChanged = false;
  private baselineLoaded = false;
  private loop: Promise<void> | null = null;
  private settle: () => void = () => undefined;
  /** Resolves after the first catch-up attempt, whether it succeeded or not. */
  readonly settled = new Promise<void>((resolve) => {
    this.settle = resolve;
  });
  hasCaughtUp = false;
  private markCaughtUp: () => void = () => undefined;
  /** Resolves once a catch-up has completed (never, for a destination that failed for good). */
  readonly caughtUp = new Promise<void>((resolve) => {
    this.markCaughtUp = resolve;
  });
  /** Refused operations are tried again on their own, with backoff, until they pass (live only). */
  private retryTimer: NodeJS.Timeout | null = null;
  private retryRound = 0;

  constructor(private readonly options: DestinationOptions) {}

  get label(): string {
    return this.options.label;
  }

  /** Converged: caught up with nothing pending and nothing refused. */
  get isConverged(): boolean {
    return !this.fatal && !this.needsCatchUp && this.dirty.size === 0 && this.failures.size === 0;
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  markDirty(paths: Iterable<string>): void {
    for (const path of paths) this.dirty.add(path);
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.wake?.();
    await this.loop;
    await this.endpoint?.close();
    await this.saveBaseline();
    this.state = 'stopped';
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping && !this.fatal) {
      try {
        if (!this.endpoint) await this.connect();
        if (this.needsCatchUp) await this.catchUp();
        attempt = 0;
        if (this.options.once) {
          if (this.dirty.size > 0) await this.syncDirty();
          break;
        }
        if (this.dirty.size > 0) await this.syncDirty();
        else await this.waitForWork();
      } catch (error) {
        if (this.options.once || !isRetryable(error)) {
          this.fatal = error instanceof SicksyncError ? error : new SicksyncError(ErrorCode.IO, (error as Error).message ?? String(error));
          this.state = 'failed';
          this.options.reporter.error(`${this.label}: ${this.fatal.message} (${this.fatal.code})`);
          break;
        }
        this.dropEndpoint();
        const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] ?? 5000;
        attempt += 1;
        this.state = 'retrying';
        this.options.reporter.warn(`${this.label}: ${(error as Error).message}; retrying in ${delay / 1000} s`);
        this.settle();
        await this.sleepUnlessStopped(delay);
      }
    }
    this.settle();
  }

  private async connect(): Promise<void> {
    this.state = 'connecting';
    const endpoint = await this.options.connect();
    this.endpoint = endpoint;
    this.needsCatchUp = true;
    endpoint.onClose((reason) => {
      if (this.endpoint !== endpoint || this.stopping) return;
      this.options.reporter.warn(`${this.label}: connection lost (${reason})`);
      this.dropEndpoint();
      this.wake?.();
    });
  }

  private dropEndpoint(): void {
    const endpoint = this.endpoint;
    this.endpoint = null;
    this.needsCatchUp = true;
    void endpoint?.close();
  }

  private requireEndpoint(): Endpoint {
    if (!this.endpoint) throw new SicksyncError(ErrorCode.CONNECTION_LOST, `not connected to ${this.label}`);
    return this.endpoint;
  }

  /** Full comparison of both sides: at start, and after every reconnect. */
  private async catchUp(): Promise<void> {
    const started = Date.now();
    this.state = 'syncing';
    const endpoint = this.requireEndpoint();
    if (!this.baselineLoaded) {
      this.baseline = (await this.options.store.load()) ?? new Map<string, BaselineRecord>();
      this.baselineLoaded = true;
    }
    const remote = await endpoint.scan();
    this.dirty.clear();
    const input: PushPlanInput = {
      local: this.options.local,
      remote,
      baseline: this.baseline,
      deleteExtraneous: this.options.deleteExtraneous,
      verifyContent: true,
      isUnknown: this.options.isLocalUnknown,
    };
    let plan = getPushPlan(input);
    if (plan.needHashes.length > 0) plan = getPushPlan({ ...input, hashes: await this.getHashes(endpoint, plan.needHashes) });
    this.checkDeleteGuard(plan, remote.size);
    const outcome = await this.apply(endpoint, plan);
    this.needsCatchUp = false;
    await this.saveBaseline();
    const took = ((Date.now() - started) / 1000).toFixed(1);
    this.options.reporter.info(`${this.label}: ${formatSummary(outcome)} in ${took} s`);
    this.state = 'watching';
    this.hasCaughtUp = true;
    this.markCaughtUp();
    this.settle();
  }

  private async getHashes(endpoint: Endpoint, paths: string[]): Promise<NonNullable<PushPlanInput['hashes']>> {
    const localRoot = this.options.localRoot;
    const local = new Map<string, string | null>();
    for (const path of paths) local.set(path, await getFileHash(join(localRoot, path)).catch(() => null));
    return { local, remote: await endpoint.hash(paths) };
  }

  private checkDeleteGuard(plan: PushPlan, remoteCount: number): void {
    if (this.options.force || plan.deleteCount === 0) return;
    const share = plan.deleteCount / Math.max(remoteCount, 1);
    if (share <= this.options.deleteGuard) return;
    throw new SicksyncError(
      ErrorCode.DELETE_GUARD,
      `this sync would delete ${plan.deleteCount} of ${remoteCount} entries (${Math.round(share * 100)}%) at the destination, ` +
        `more than deleteGuard allows (${Math.round(this.options.deleteGuard * 100)}%). Nothing was changed there. ` +
        'If the local folder is as you want it, run again with --force.',
    );
  }

  /** Live changes: plan only the dirty paths, against what the destination last confirmed. */
  private async syncDirty(): Promise<void> {
    const endpoint = this.requireEndpoint();
    const paths = [...this.dirty];
    this.dirty.clear();
    const remote = new Map<string, Entry>();
    for (const path of paths) {
      const record = this.baseline.get(path);
      if (record) remote.set(path, record.remote);
    }
    try {
      const plan = getPushPlan({
        local: this.options.local,
        remote,
        baseline: this.baseline,
        paths,
        deleteExtraneous: false,
        verifyContent: false,
        isUnknown: this.options.isLocalUnknown,
      });
      const outcome = await this.apply(endpoint, plan);
      if (outcome.applied > 0) this.options.reporter.info(`${this.label}: ${formatSummary(outcome)}`);
      this.scheduleBaselineSave();
    } catch (error) {
      for (const path of paths) this.dirty.add(path);
      throw error;
    }
  }

  private async apply(endpoint: Endpoint, plan: PushPlan): Promise<ApplyOutcome> {
    for (const [path, record] of plan.agreed) this.baseline.set(path, record);
    // A path a rename moves away looks gone from both sides in the plan; its record must stay until
    // the rename is confirmed (apply-plan.ts moves it then), or a connection lost meanwhile would
    // leave the old name at the destination as a file sicksync never synced.
    const moving = plan.ops.flatMap((op) => (op.kind === 'rename' ? [op.from] : []));
    for (const path of plan.forgotten) {
      if (!moving.some((from) => path === from || isInside(path, from))) this.baseline.delete(path);
    }
    const outcome = await applyPlan(endpoint, plan.ops, this.options.localRoot, this.baseline);
    this.baselineChanged = true;
    this.recordFailures(plan, outcome);
    for (const note of outcome.notes) this.options.reporter.warn(`${this.label}: ${note}`);
    this.markDirty(outcome.retry);
    this.scheduleFailedRetry();
    return outcome;
  }

  /**
   * A refusal is said once, when it starts or its reason changes, not at every retry; a path that
   * passes after failing says so, so the last word about every file is on the screen.
   */
  private recordFailures(plan: PushPlan, outcome: ApplyOutcome): void {
    for (const path of plan.ops.map((op) => op.path)) {
      if (!this.failures.has(path) || outcome.failed.has(path) || outcome.retry.includes(path)) continue;
      this.failures.delete(path);
      this.options.reporter.info(`${this.label}: ${path}: synced now`);
    }
    for (const [path, error] of outcome.failed) {
      const before = this.failures.get(path);
      this.failures.set(path, error);
      if (before?.message === error.message) continue;
      const retry = !this.options.once && isRetryable(error) ? '; retrying' : '';
      this.options.reporter.error(`${this.label}: ${error.message} (${error.code})${retry}`);
    }
  }

  /**
   * A write refused for a passing reason (a full disk, no descriptors left, a read-only mount) is
   * tried again with backoff until it passes, without waiting for the next edit of that file.
   */
  private scheduleFailedRetry(): void {
    if (this.options.once || this.retryTimer || this.stopping) return;
    const paths = [...this.failures].filter(([, error]) => isRetryable(error)).map(([path]) => path);
    if (paths.length === 0) {
      this.retryRound = 0;
      return;
    }
    const delay = BACKOFF_MS[Math.min(this.retryRound, BACKOFF_MS.length - 1)] ?? 5000;
    this.retryRound += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.markDirty(paths.filter((path) => this.failures.has(path)));
    }, delay);
  }

  private saveTimer: NodeJS.Timeout | null = null;

  private scheduleBaselineSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      void this.saveBaseline();
    }, 1000);
  }

  private async saveBaseline(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.baselineChanged) return;
    this.baselineChanged = false;
    await this.options.store.save(this.baseline).catch((error: unknown) => {
      this.options.reporter.warn(`${this.label}: could not save sync state: ${String(error)}`);
    });
  }

  private waitForWork(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
      if (this.stopping || this.dirty.size > 0 || !this.endpoint) this.wake();
    });
  }

  private async sleepUnlessStopped(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((resolve) => (this.wake = resolve))]);
    this.wake = null;
  }
}
