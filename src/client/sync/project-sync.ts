/**
 * One project: one local scan and one watcher feeding every destination.
 */
import { getStatePaths } from '../../shared/state-dir.js';
import { createModeOf, hasWayBack } from '../../shared/mode-rules.js';
import type { ProjectConfig } from '../config/types.js';
import { createConnector, type Connector } from '../endpoint/connect.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { loadProjectRules } from '../project-rules.js';
import { getWatchLimitWarning } from '../watch-limit.js';
import { BaselineStore } from './baseline-store.js';
import { DestinationSync } from './destination-sync.js';
import { RootWatcher } from '../../shared/root-watcher.js';
import { TreeIndex } from '../../shared/tree-index.js';
import type { Reporter } from './reporter.js';

export interface RunOptions {
  once: boolean;
  force: boolean;
  deleteExtraneous: boolean;
}

/** When a new folder is looked at again (see TreeIndex.takeAppearedFolders). */
const RESCAN_DELAY_MS = 300;

export class ProjectSync {
  readonly destinations: DestinationSync[] = [];
  private watcher: RootWatcher | null = null;
  private index: TreeIndex | null = null;
  private updates: Promise<void> = Promise.resolve();

  constructor(
    private readonly project: ProjectConfig,
    private readonly options: RunOptions,
    private readonly reporter: Reporter,
  ) {}

  private readonly connector: Connector = createConnector((line) => this.reporter.warn(line));

  /** Scans, then brings every destination up to date; in live mode keeps following changes. */
  async start(): Promise<void> {
    const { project, reporter } = this;
    // A failure to load shows again, where its destination connects.
    const preparing = this.connector.prepare(project.destinations).catch(() => undefined);
    const rules = await loadProjectRules(project);
    const index = new TreeIndex(
      project.root,
      rules,
      (line) => reporter.warn(line),
      (problem) => reporter.error(`${problem.message} (${problem.code})`),
    );
    this.index = index;
    let scanned = false;
    const early: Set<string>[] = [];
    if (!this.options.once) {
      // Each folder is watched before the scan reads it (TreeIndex.follow): what changes during the
      // scan is either read by it or reported after it.
      this.watcher = new RootWatcher(project.root, {
        onBatch: (paths) => (scanned ? this.handleBatch(paths) : early.push(paths)),
        onError: (error) => reporter.warn(`watcher: ${error.message}`),
        isKnownFolder: (path) => index.entries.get(path)?.kind === 'dir',
        // A round during the scan has nothing to add: the scan reads those folders.
        poll: (folders) => new Promise((resolve) => (scanned ? this.enqueueUpdate((tree) => tree.poll(folders), resolve) : resolve())),
        persistent: true,
      });
      index.follow(this.watcher);
    }
    // Connections are opened while the project is scanned: an SSH handshake and a daemon start
    // take as long as scanning a large tree, and neither needs the other. The SSH code is loaded
    // first: loaded during the scan, it waited for the scan's turns, and the handshake started
    // 300 ms late on a 20,000-file tree.
    await preparing;
    const history = project.history.versions > 0 ? project.history : null;
    const hellos = project.destinations.map((spec) => ({ root: spec.location, excludes: rules.patterns, history }));
    const opening = project.destinations.map((spec, i) => {
      const connection = this.connector.connect(spec, hellos[i]!);
      // The destination is walked while the project is: its scan is what the first catch-up asks for.
      const twoWay = hasWayBack(spec.mode, project.rules);
      connection.then((endpoint) => endpoint.prefetchScan(twoWay && endpoint.capabilities.watch)).catch(() => undefined);
      return connection;
    });
    const started = Date.now();
    try {
      await index.scan();
    } catch (error) {
      for (const connection of opening)
        void connection.then(
          (opened) => opened.close(),
          () => undefined,
        );
      throw error;
    }
    reporter.info(`scanned ${index.entries.size} entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (this.watcher) {
      let folders = 0;
      for (const entry of index.entries.values()) if (entry.kind === 'dir') folders += 1;
      const warning = getWatchLimitWarning(folders, this.watcher.polledCount);
      if (warning) reporter.warn(warning);
    }
    const stateDir = getStatePaths().dir;
    for (const [i, spec] of project.destinations.entries()) {
      const hello = hellos[i]!;
      let first: Promise<Endpoint> | null = opening[i]!;
      const destination: DestinationSync = new DestinationSync({
        label: spec.id,
        localRoot: project.root,
        index,
        rules,
        getMode: createModeOf(spec.mode, project.rules),
        twoWay: hasWayBack(spec.mode, project.rules),
        policy: project.conflictPolicy,
        history,
        onLocalChanged: (paths) => {
          for (const other of this.destinations) if (other !== destination) other.markDirty(paths);
        },
        connect: () => {
          // The connection opened during the scan serves the first attempt; retries open new ones.
          const connection = first ?? this.connector.connect(spec, hello);
          first = null;
          return connection;
        },
        store: new BaselineStore(stateDir, project.root, spec.id),
        reporter,
        deleteGuard: project.deleteGuard,
        force: this.options.force,
        deleteExtraneous: this.options.deleteExtraneous,
        isLocalUnknown: (path) => index.isUnknown(path),
        once: this.options.once,
      });
      this.destinations.push(destination);
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

  /**
   * Index updates run one at a time, in order; what they change goes to every destination. `done`
   * is called once the update ran (or could not).
   */
  private enqueueUpdate(update: (index: TreeIndex) => Promise<Set<string>>, done?: () => void): void {
    const index = this.index;
    if (!index) return done?.();
    this.updates = this.updates
      .then(async () => {
        const changed = await update(index);
        for (const folder of index.takeAppearedFolders()) this.scheduleRescan(folder);
        if (changed.size === 0) return;
        for (const destination of this.destinations) destination.markDirty(changed);
      })
      .catch((error: unknown) => this.reporter.warn(`could not read changes: ${String(error)}`))
      .finally(done);
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
    this.watcher?.close();
    await this.updates;
    await Promise.all(this.destinations.map((destination) => destination.stop()));
    await this.connector.close();
  }
}
