/**
 * Keeps one destination following the project. Each destination has its own queue of dirty paths
 * and its own connection, so a slow or failing one never holds back the others.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { releaseMemory } from '../../shared/release-memory.js';
import { hasSameMtime, isInside, isSameStat, type Entry, type Snapshot } from '../../shared/entry.js';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { IgnoreRules } from '../../shared/ignore-rules.js';
import { reconcile } from '../../shared/plan/reconcile.js';
import type { Baseline, Conflict, GuardTrip, Hashes, Plan, PlanInput } from '../../shared/plan/types.js';
import type { ConflictPolicy, SyncMode } from '../../shared/sync-mode.js';
import type { TreeIndex } from '../../shared/tree-index.js';
import type { HistoryPolicy } from '../../shared/tree/history.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { applyPlan, type ApplyOutcome, type Sides } from './apply-plan.js';
import type { BaselineStore, Resolution } from './baseline-store.js';
import { ProjectSide } from './project-side.js';
import type { Reporter } from './reporter.js';
import { formatSummary } from './summary.js';

export interface DestinationOptions {
  /** Human name, e.g. `devbox:~/src/web`. */
  label: string;
  localRoot: string;
  /** The project's live index of local entries, shared by every destination. */
  index: TreeIndex;
  rules: IgnoreRules;
  /** The mode of each path: the destination's, or the last project rule that matches. */
  getMode: (path: string, isDir: boolean) => SyncMode;
  /** Some path of this destination comes back (pull or bidirectional): the daemon watches it. */
  twoWay: boolean;
  policy: ConflictPolicy;
  history: HistoryPolicy | null;
  /** Changes this destination brought into the project: the other destinations follow them. */
  onLocalChanged: (paths: string[]) => void;
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

export type DestinationState = 'connecting' | 'syncing' | 'watching' | 'paused' | 'retrying' | 'failed' | 'stopped';

/** A live batch deleting fewer entries than this is an edit, never a wipe-out (reconcile.ts). */
const LIVE_GUARD_FLOOR = 20;

const RESOLUTION_POLICY: Record<Resolution, ConflictPolicy> = { local: 'local', remote: 'remote', both: 'keep-both' };

const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

/** Errors that a later attempt may not meet: refusals that only a person can fix are not retried. */
const FATAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.DELETE_GUARD,
  ErrorCode.PROTOCOL_VERSION,
  ErrorCode.HOST_KEY,
  ErrorCode.REMOTE_NODE,
  ErrorCode.PATH_OUTSIDE_ROOT,
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
  private project: ProjectSide | null = null;
  /** A connection was made once: a later loss is the connection's, not the host's refusal. */
  private hasConnected = false;
  private warnedNoWatch = false;
  private baseline: Baseline = new Map();
  /** What the destination holds: scanned at each catch-up, then kept current by notices and acks. */
  private remote: Snapshot = new Map();
  /** Conflicts left for the user (`manual`), by path. */
  readonly conflicts = new Map<string, Conflict>();
  private readonly resolutions = new Map<string, Resolution>();
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

  /** Converged: caught up with nothing pending, nothing refused and no conflict left open. */
  get isConverged(): boolean {
    return !this.fatal && !this.needsCatchUp && this.dirty.size === 0 && this.failures.size === 0 && this.conflicts.size === 0;
  }

  /** Settles an open conflict the way the user said; applied with the next batch. */
  resolve(path: string, keep: Resolution): boolean {
    if (!this.conflicts.has(path)) return false;
    this.resolutions.set(path, keep);
    this.baselineChanged = true;
    this.markDirty([path]);
    return true;
  }

  private resolutionTimer: NodeJS.Timeout | null = null;

  /** While conflicts are open, looks for answers from `sicksync resolve` twice a second. */
  private watchResolutions(): void {
    if (this.resolutionTimer || this.options.once || this.stopping || this.conflicts.size === 0) return;
    this.resolutionTimer = setTimeout(() => {
      this.resolutionTimer = null;
      void this.takeResolutions().finally(() => this.watchResolutions());
    }, 500);
  }

  private async takeResolutions(): Promise<void> {
    for (const [path, keep] of await this.options.store.takeResolutions()) {
      if (!this.resolve(path, keep)) this.options.reporter.warn(`${this.label}: ${path}: no open conflict to resolve`);
    }
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
  }

  /** Writes whose answer a lost connection took with it (see adoptUnconfirmed). */
  private readonly unconfirmed = new Map<string, Entry>();

  markDirty(paths: Iterable<string>): void {
    for (const path of paths) this.dirty.add(path);
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resolutionTimer) clearTimeout(this.resolutionTimer);
    this.resolutionTimer = null;
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
    // --once: a connection that drops after it was made (a daemon reaching its idle exit just as we
    // came) is made again, twice at most; one that cannot be made fails at once.
    let onceReconnects = 0;
    while (!this.stopping && !this.fatal) {
      try {
        if (!this.endpoint) await this.connect();
        if (this.needsCatchUp) await this.catchUp();
        attempt = 0;
        if (this.options.once) {
          if (this.dirty.size > 0 && this.endpoint) await this.syncDirty();
          if (!this.needsCatchUp || onceReconnects >= 2) break;
          onceReconnects += 1;
          continue;
        }
        if (this.dirty.size > 0) await this.syncDirty();
        else await this.waitForWork();
      } catch (error) {
        const lost = error instanceof SicksyncError && error.code === ErrorCode.CONNECTION_LOST && this.hasConnected;
        if ((this.options.once && !(lost && onceReconnects < 2)) || !isRetryable(error)) {
          this.fatal = error instanceof SicksyncError ? error : new SicksyncError(ErrorCode.IO, (error as Error).message ?? String(error));
          this.state = this.fatal.code === ErrorCode.DELETE_GUARD ? 'paused' : 'failed';
          this.options.reporter.error(`${this.label}: ${this.fatal.message} (${this.fatal.code})`);
          break;
        }
        if (this.options.once) onceReconnects += 1;
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
    this.hasConnected = true;
    this.project = new ProjectSide(this.options.localRoot, this.options.rules, this.options.history, endpoint.host || this.label);
    this.needsCatchUp = true;
    endpoint.onChanges((entries, gone) => {
      if (this.endpoint !== endpoint) return;
      for (const entry of entries) this.remote.set(entry.path, entry);
      for (const path of gone) this.remote.delete(path);
      this.markDirty([...entries.map((entry) => entry.path), ...gone]);
    });
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
      const stored = await this.options.store.load();
      if (stored) {
        this.baseline = stored.baseline;
        for (const [path, conflict] of stored.conflicts) this.conflicts.set(path, conflict);
        for (const [path, keep] of stored.resolutions) this.resolutions.set(path, keep);
      }
      this.baselineLoaded = true;
      // Answers given while no client ran.
      for (const [path, keep] of await this.options.store.takeResolutions()) this.resolutions.set(path, keep);
    }
    if (this.options.twoWay && !endpoint.capabilities.watch && !this.warnedNoWatch) {
      this.warnedNoWatch = true;
      this.options.reporter.warn(`${this.label}: this destination cannot report its changes live; they come back at each start`);
    }
    this.remote = await endpoint.scan(this.options.twoWay && endpoint.capabilities.watch);
    this.shareBaselineEntries();
    this.adoptUnconfirmed();
    this.dirty.clear();
    const plan = await this.getPlan(endpoint, { deleteExtraneous: this.options.deleteExtraneous, verifyContent: true }, 1);
    this.checkDeleteGuard(plan.guardTrip, false);
    const outcome = await this.apply(endpoint, plan);
    this.needsCatchUp = false;
    await this.saveBaseline();
    const took = ((Date.now() - started) / 1000).toFixed(1);
    this.options.reporter.info(`${this.label}: ${formatSummary(outcome)} in ${took} s`);
    this.state = 'watching';
    this.hasCaughtUp = true;
    if (!this.options.once) releaseMemory(this.remote.size);
    this.markCaughtUp();
    this.settle();
  }

  /**
   * A baseline read from disk, or kept from before a reconnect, holds copies of entries that the
   * project's index and the destination's scan hold as well: where they are the same, it takes
   * theirs, so a large tree is held once per side, not twice (entries are replaced, never changed).
   */
  private shareBaselineEntries(): void {
    const { entries } = this.options.index;
    const isCopy = (entry: Entry | undefined, of: Entry): entry is Entry =>
      entry !== undefined && entry !== of && entry.path === of.path && isSameStat(entry, of);
    for (const [path, record] of this.baseline) {
      const local = entries.get(path);
      if (isCopy(local, record.local)) record.local = local;
      const remote = this.remote.get(path);
      if (isCopy(remote, record.remote)) record.remote = remote;
    }
  }

  /**
   * Writes sent before the connection was lost, whose acknowledgement never came: where the
   * destination now holds exactly what was sent (kind, size and mtime, which the daemon sets from
   * the source), the write was applied, and the baseline says so. Otherwise the next write there
   * would take our own file for someone else's change and keep a conflict copy of it.
   */
  private adoptUnconfirmed(): void {
    for (const [path, sent] of this.unconfirmed) {
      const there = this.remote.get(path);
      const applied =
        there !== undefined &&
        there.kind === sent.kind &&
        (sent.kind === 'symlink' ? there.target === sent.target : there.size === sent.size && hasSameMtime(there, sent));
      if (!applied) continue;
      this.baseline.set(path, { local: sent, remote: there });
      this.baselineChanged = true;
    }
    this.unconfirmed.clear();
  }

  /** Plans `paths` (all, when absent), hashing what size and time leave in doubt. */
  private async getPlan(
    endpoint: Endpoint,
    options: Pick<PlanInput, 'deleteExtraneous' | 'verifyContent'>,
    guardFloor: number,
    paths?: string[],
  ): Promise<Plan> {
    const input: PlanInput = {
      local: this.options.index.entries,
      remote: this.remote,
      baseline: this.baseline,
      ...(paths ? { paths } : {}),
      ...options,
      getMode: this.options.getMode,
      getPolicy: (path) => {
        const resolution = this.resolutions.get(path);
        return resolution ? RESOLUTION_POLICY[resolution] : this.options.policy;
      },
      isUnknown: this.options.isLocalUnknown,
      hosts: { local: hostname(), remote: endpoint.host || this.label },
      now: new Date(),
      deleteGuard: this.options.deleteGuard,
      force: this.options.force,
    };
    const plan = reconcile(input, guardFloor);
    if (plan.needHashes.length === 0) return plan;
    return reconcile({ ...input, hashes: await this.getHashes(endpoint, plan.needHashes) }, guardFloor);
  }

  private async getHashes(endpoint: Endpoint, paths: string[]): Promise<Hashes> {
    const [local, remote] = await Promise.all([this.requireProject().hash(paths), endpoint.hash(paths)]);
    return { local, remote };
  }

  private requireProject(): ProjectSide {
    if (!this.project) throw new SicksyncError(ErrorCode.CONNECTION_LOST, `not connected to ${this.label}`);
    return this.project;
  }

  private checkDeleteGuard(trip: GuardTrip | null, live: boolean): void {
    if (!trip) return;
    const share = trip.count / trip.total;
    const where = trip.side === 'remote' ? 'at the destination' : 'in the project folder (changes that came from the destination)';
    const next = live
      ? 'Syncing to this destination is paused. If that is what you want, restart with --force.'
      : 'If that is what you want, run again with --force.';
    throw new SicksyncError(
      ErrorCode.DELETE_GUARD,
      `this sync would delete ${trip.count} of ${trip.total} entries (${Math.round(share * 100)}%) ${where}, ` +
        `more than deleteGuard allows (${Math.round(this.options.deleteGuard * 100)}%). Nothing was changed there. ${next}`,
    );
  }

  /** Live changes, on either side: plan only the dirty paths. */
  private async syncDirty(): Promise<void> {
    const endpoint = this.requireEndpoint();
    const paths = [...this.dirty];
    this.dirty.clear();
    try {
      // Hashes only where both sides changed: telling the same edit from a conflict is worth a read.
      const plan = await this.getPlan(endpoint, { deleteExtraneous: false, verifyContent: this.options.twoWay }, LIVE_GUARD_FLOOR, paths);
      this.checkDeleteGuard(plan.guardTrip, true);
      const outcome = await this.apply(endpoint, plan);
      if (outcome.applied > 0) this.options.reporter.info(`${this.label}: ${formatSummary(outcome)}`);
      this.scheduleBaselineSave();
    } catch (error) {
      for (const path of paths) this.dirty.add(path);
      throw error;
    }
  }

  private getSides(endpoint: Endpoint): Sides {
    const { index } = this.options;
    return {
      endpoint,
      project: this.requireProject(),
      local: index.entries,
      remote: this.remote,
      baseline: this.baseline,
      noteLocal: (path, entry, hash) => index.noteApplied(path, entry, hash),
      noteLocalMove: (from, to) => index.noteMoved(from, to),
      noteUnconfirmed: (op) => {
        if (op.side === 'remote' && (op.kind === 'write' || op.kind === 'symlink')) this.unconfirmed.set(op.path, op.entry);
      },
    };
  }

  private async apply(endpoint: Endpoint, plan: Plan): Promise<ApplyOutcome> {
    for (const [path, record] of plan.agreed) this.baseline.set(path, record);
    // A path a rename moves away looks gone from both sides in the plan; its record must stay until
    // the rename is confirmed (apply-plan.ts moves it then), or a connection lost meanwhile would
    // leave the old name at the destination as a file sicksync never synced.
    const moving = plan.ops.flatMap((op) => (op.kind === 'rename' ? [op.from] : []));
    let forgot = false;
    for (const path of plan.forgotten) {
      if (!moving.some((from) => path === from || isInside(path, from))) forgot = this.baseline.delete(path) || forgot;
    }
    // Nothing new agreed, forgotten or done: the state on disk is still right, and rewriting it
    // (tens of megabytes for a large tree) would cost a "nothing changed" run more than its scan.
    if (plan.agreed.length > 0 || forgot || plan.ops.length > 0) this.baselineChanged = true;
    this.recordConflicts(plan);
    this.watchResolutions();
    const outcome = await applyPlan(this.getSides(endpoint), plan.ops);
    if (outcome.changedHere.length > 0) this.options.onLocalChanged(outcome.changedHere);
    this.recordFailures(plan, outcome);
    for (const note of outcome.notes) this.options.reporter.warn(`${this.label}: ${note}`);
    this.markDirty(outcome.retry);
    this.scheduleFailedRetry();
    return outcome;
  }

  /**
   * Conflicts settled by the policy are said once; those left to the user stay listed until
   * resolved. A path planned without a conflict has none left open, and its resolution is used up.
   */
  private recordConflicts(plan: Plan): void {
    const inPlan = new Set(plan.conflicts.map((conflict) => conflict.path));
    if (this.conflicts.size > 0 || this.resolutions.size > 0) {
      const settled = [...plan.agreed.map(([path]) => path), ...plan.unchanged, ...plan.ops.map((op) => op.path), ...plan.forgotten];
      for (const path of settled) {
        if (inPlan.has(path)) continue;
        if (this.conflicts.delete(path)) this.baselineChanged = true;
        if (this.resolutions.delete(path)) this.baselineChanged = true;
      }
    }
    for (const conflict of plan.conflicts) {
      if (this.resolutions.delete(conflict.path)) this.baselineChanged = true;
      if (conflict.policy !== 'manual') {
        if (this.conflicts.delete(conflict.path)) this.baselineChanged = true;
        const kept = conflict.keptAs ? `the other version is kept as ${conflict.keptAs}` : 'the other version is kept in the history';
        this.options.reporter.warn(
          `${this.label}: ${conflict.path} changed on both sides; the ${conflict.winner} version wins (${conflict.policy}), ${kept}`,
        );
        continue;
      }
      const before = this.conflicts.get(conflict.path);
      this.conflicts.set(conflict.path, conflict);
      this.baselineChanged = true;
      if (before && before.local?.mtimeNs === conflict.local?.mtimeNs && before.remote?.mtimeNs === conflict.remote?.mtimeNs) continue;
      this.options.reporter.error(
        `${this.label}: ${conflict.path} changed on both sides; both versions are left as they are (${ErrorCode.CONFLICT}). ` +
          `Settle it with: sicksync resolve ${conflict.path} --keep local|remote|both`,
      );
    }
  }

  /**
   * A refusal is said once, when it starts or its reason changes, not at every retry; a path that
   * passes after failing says so, so the last word about every file is on the screen.
   */
  private recordFailures(plan: Plan, outcome: ApplyOutcome): void {
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

  /** Saves run one after another: two at once could rename an older state over a newer one. */
  private saving: Promise<void> = Promise.resolve();

  private saveBaseline(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (!this.baselineChanged) return this.saving;
    this.baselineChanged = false;
    const state = { baseline: this.baseline, conflicts: this.conflicts, resolutions: this.resolutions };
    this.saving = this.saving
      .then(() => this.options.store.save(state))
      .catch((error: unknown) => {
        this.options.reporter.warn(`${this.label}: could not save sync state: ${String(error)}`);
      });
    return this.saving;
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
