/**
 * One project: one local scan and one watcher feeding every destination.
 */
import { getStatePaths } from '../../shared/state-dir.js';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { DestinationSpec, ProjectConfig } from '../config/types.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { connectLocalDaemon } from '../endpoint/local-daemon.js';
import { connectTcpDaemon } from '../endpoint/tcp-daemon.js';
import type { SshConnector } from '../ssh/ssh-connector.js';
import { loadProjectRules } from '../project-rules.js';
import { watchTree, type Watcher } from '../watcher.js';
import { BaselineStore } from './baseline-store.js';
import { DestinationSync } from './destination-sync.js';
import { LocalIndex } from './local-index.js';
import type { Reporter } from './reporter.js';

export interface RunOptions {
  once: boolean;
  force: boolean;
  deleteExtraneous: boolean;
}

/** How to reach a destination; remote hosts plug in here. */
export type Connector = (spec: DestinationSpec, hello: { root: string; excludes: readonly string[] }) => Promise<Endpoint>;

/**
 * pull and bidirectional are accepted by the configuration but not built yet. Running them as push
 * could overwrite the very changes the user asked to bring back, so such a destination is refused.
 */
function getModeNotReadyError(spec: DestinationSpec): SicksyncError {
  return new SicksyncError(
    ErrorCode.MODE_UNSUPPORTED,
    `${spec.id}: mode "${spec.mode}" is not available in this version; nothing was synced there. Use "mode": "push" for this destination.`,
  );
}

/** When a new folder is looked at again (see LocalIndex.takeAppearedFolders). */
const RESCAN_DELAY_MS = 300;

export class ProjectSync {
  readonly destinations: DestinationSync[] = [];
  private watcher: Watcher | null = null;
  private index: LocalIndex | null = null;
  private updates: Promise<void> = Promise.resolve();

  constructor(
    private readonly project: ProjectConfig,
    private readonly options: RunOptions,
    private readonly reporter: Reporter,
  ) {}

  /** Loaded with the first SSH destination: ssh2 is not needed for local ones. */
  private ssh: Promise<SshConnector> | null = null;

  private connectSsh: Connector = async (spec, hello) => {
    this.ssh ??= import('../ssh/ssh-connector.js').then(
      ({ SshConnector }) => new SshConnector({ notice: (line) => this.reporter.warn(line) }),
    );
    return (await this.ssh).connect(spec, hello);
  };

  /** Local destinations use the local daemon; SSH ones the daemon of their host. */
  private readonly connector: Connector = (spec, hello) => {
    if (spec.tcp) return connectTcpDaemon(spec, spec.tcp, hello);
    return spec.host ? this.connectSsh(spec, hello) : connectLocalDaemon(spec.id, hello);
  };

  /** Scans, then brings every destination up to date; in live mode keeps following changes. */
  async start(): Promise<void> {
    const { project, reporter } = this;
    const rules = await loadProjectRules(project);
    const index = new LocalIndex(
      project.root,
      rules,
      (line) => reporter.warn(line),
      (problem) => reporter.error(`${problem.message} (${problem.code})`),
    );
    this.index = index;
    let scanned = false;
    const early: Set<string>[] = [];
    if (!this.options.once) {
      this.watcher = watchTree(
        project.root,
        rules,
        (paths) => (scanned ? this.handleBatch(paths) : early.push(paths)),
        (error) => reporter.warn(`watcher: ${error.message}`),
      );
    }
    const started = Date.now();
    await Promise.all([index.scan(), this.watcher?.ready]);
    reporter.info(`scanned ${index.entries.size} entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const stateDir = getStatePaths().dir;
    for (const spec of project.destinations) {
      const hello = { root: spec.location, excludes: rules.patterns };
      this.destinations.push(
        new DestinationSync({
          label: spec.id,
          localRoot: project.root,
          local: index.entries,
          connect: () => (spec.mode === 'push' ? this.connector(spec, hello) : Promise.reject(getModeNotReadyError(spec))),
          store: new BaselineStore(stateDir, project.root, spec.id),
          reporter,
          deleteGuard: project.deleteGuard,
          force: this.options.force,
          deleteExtraneous: this.options.deleteExtraneous,
          isLocalUnknown: (path) => index.isUnknown(path),
          once: this.options.once,
        }),
      );
    }
    scanned = true;
    for (const batch of early) this.handleBatch(batch);
    const runs = this.destinations.map((destination) => destination.start());
    if (this.options.once) await Promise.all(runs);
    else await Promise.all(this.destinations.map((destination) => destination.settled));
  }

  private handleBatch(paths: Set<string>): void {
    this.enqueueUpdate((index) => index.update(paths));
  }

  /** Index updates run one at a time, in order; what they change goes to every destination. */
  private enqueueUpdate(update: (index: LocalIndex) => Promise<Set<string>>): void {
    const index = this.index;
    if (!index) return;
    this.updates = this.updates
      .then(async () => {
        const changed = await update(index);
        for (const folder of index.takeAppearedFolders()) this.scheduleRescan(folder);
        if (changed.size === 0) return;
        for (const destination of this.destinations) destination.markDirty(changed);
      })
      .catch((error: unknown) => this.reporter.warn(`could not read changes: ${String(error)}`));
  }

  private readonly rescans = new Set<NodeJS.Timeout>();

  /** Looks at a new folder again once the watcher surely covers it; only differences count. */
  private scheduleRescan(folder: string): void {
    const timer = setTimeout(() => {
      this.rescans.delete(timer);
      this.enqueueUpdate((index) => index.rescan(folder));
    }, RESCAN_DELAY_MS);
    this.rescans.add(timer);
  }

  /** Paths of the project the scans could not take in (each was reported). */
  get problemCount(): number {
    return this.index?.problems.size ?? 0;
  }

  /** Every destination is up to date, and nothing of the project was left out for a reason it could not help. */
  get isConverged(): boolean {
    return (this.index?.problems.size ?? 0) === 0 && this.destinations.every((destination) => destination.isConverged);
  }

  async stop(): Promise<void> {
    for (const timer of this.rescans) clearTimeout(timer);
    this.rescans.clear();
    await this.watcher?.close();
    await this.updates;
    await Promise.all(this.destinations.map((destination) => destination.stop()));
    (await this.ssh)?.close();
  }
}
