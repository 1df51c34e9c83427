/**
 * A tree's state, kept current from a watcher's batches. The client keeps one for the project, which
 * every destination reads (a change is stat-ed once however many destinations there are); the
 * daemon keeps one per watched destination, to tell its client what changed there.
 */
import { readFileSync, readdirSync, realpathSync, utimesSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { getParentPath, isInside, isSameStat, type Entry, type Snapshot } from './entry.js';
import type { IgnoreRules } from './ignore-rules.js';
import { isLinkTargetInside } from './paths.js';
import { scanTree, type ScanProblem } from './scan.js';
import { ErrorCode, hasErrno } from './errors.js';
import { getEntry } from './stat-entry.js';
import { ECHO_CHECK_MAX, createContentHash } from './hash.js';

/** What keeps a tree's folders watched (RootWatcher): told of every folder the index takes in or lets go. */
export interface FolderWatch {
  add(folder: string): void;
  /** Also lets go of every folder inside it. */
  remove(folder: string): void;
}

/** How long after a write of ours an event for that file is checked by content. */
const ECHO_WINDOW_MS = 2000;

export class TreeIndex {
  readonly entries: Snapshot = new Map();
  /** Paths the scans could not take in (undecodable names, overlong paths, unreadable folders). */
  readonly problems = new Map<string, ScanProblem>();
  private readonly warned = new Set<string>();
  /** Folders that appeared since the last call of takeAppearedFolders(). */
  private appeared: string[] = [];
  private watch: FolderWatch | null = null;

  constructor(
    readonly root: string,
    private readonly rules: IgnoreRules,
    private readonly warn: (line: string) => void,
    /** Says what a scan could not take in, once per path and reason. */
    private readonly error: (problem: ScanProblem) => void = () => undefined,
  ) {}

  /** Inside a folder that could not be read, or a path too long to reach: what it holds is unknown. */
  isUnknown(path: string): boolean {
    if (this.problems.size === 0) return false;
    for (const [problem, error] of this.problems) {
      if (isInside(path, problem) || (path === problem && error.code === ErrorCode.PATH_TOO_LONG)) return true;
    }
    return false;
  }

  /** Problems said already, so a folder read again does not repeat them. */
  private readonly reported = new Map<string, string>();

  private readonly noteProblem = (problem: ScanProblem): void => {
    this.problems.set(problem.path, problem);
    if (this.reported.get(problem.path) === problem.message) return;
    this.reported.set(problem.path, problem.message);
    this.error(problem);
  };

  /** A folder about to be read again: its problems are found again, or are gone. */
  private forgetProblems(folder: string): void {
    for (const path of [...this.problems.keys()]) {
      if (path === folder || isInside(path, folder)) this.problems.delete(path);
    }
  }

  /**
   * Symlinks are kept as links only when they stay inside the root (paths.ts says how that is told
   * from the target's text); others are left out, each named once. A target that fails that test
   * but really lands inside the project, such as `../proj/dir` from the project's own top folder,
   * is sent in its plain form (`dir`): it points at the same file here and at every destination,
   * whatever their folders are called.
   */
  private isSyncable(entry: Entry): boolean {
    if (entry.kind !== 'symlink' || isLinkTargetInside(entry.path, entry.target ?? '')) return true;
    const plain = getPlainLinkTarget(this.root, entry.path);
    if (plain !== null) {
      entry.target = plain;
      return true;
    }
    if (!this.warned.has(entry.path)) {
      this.warned.add(entry.path);
      this.warn(`not syncing ${entry.path}: it is a symlink to ${entry.target}, which leads outside the project (or nowhere)`);
    }
    return false;
  }

  /**
   * From now on every folder the index holds is watched: those it holds now, and each new one
   * before it is read, so that nothing created there meanwhile goes unseen.
   */
  follow(watch: FolderWatch): void {
    this.watch = watch;
    watch.add('');
    for (const entry of this.entries.values()) if (entry.kind === 'dir') watch.add(entry.path);
  }

  private readTree(under: string): Promise<Snapshot> {
    const watch = this.watch;
    return scanTree(this.root, this.rules, {
      under,
      onProblem: this.noteProblem,
      onFolder: watch ? (folder) => watch.add(folder) : undefined,
    });
  }

  async scan(under = ''): Promise<Entry[]> {
    this.forgetProblems(under);
    const found = [...(await this.readTree(under)).values()].filter((entry) => this.isSyncable(entry));
    for (const entry of found) this.entries.set(entry.path, entry);
    return found;
  }

  /** Takes a scan made elsewhere (the daemon's, which also sweeps stale temporary files). */
  adopt(snapshot: Snapshot): void {
    for (const entry of snapshot.values()) if (this.isSyncable(entry)) this.entries.set(entry.path, entry);
  }

  /**
   * Reads folders that have no watch again, each on its own (their subfolders are watched, or polled
   * too): what is new or different there, and what is gone, is recorded; returns those paths.
   */
  async poll(folders: ReadonlySet<string>): Promise<Set<string>> {
    const names = new Set<string>();
    for (const entry of this.entries.values()) if (folders.has(getParentPath(entry.path))) names.add(entry.path);
    for (const folder of folders) {
      for (const name of listNames(join(this.root, folder))) names.add(folder ? `${folder}/${name}` : name);
    }
    return this.update(names);
  }

  /**
   * Records what sicksync itself just did at `path` (null: removed it), so that the watcher's event
   * for it finds nothing new: a change we applied is never reported back as a change.
   */
  noteApplied(path: string, entry: Entry | null, hash?: string): void {
    if (entry) this.entries.set(path, entry);
    else this.remove(path, new Set());
    if (entry?.kind === 'dir') this.watch?.add(path);
    if (entry && hash) this.noteWritten(path, hash);
  }

  /**
   * Small files sicksync wrote recently, with the hash of what it wrote. Stat alone cannot tell our
   * write from a same-size one made in the same kernel tick right after it (mtimes tick by jiffy,
   * and the inode is ours): an event for such a file within ECHO_WINDOW_MS is checked by content.
   */
  private readonly written = new Map<string, { hash: string; at: number }>();

  private noteWritten(path: string, hash: string): void {
    const now = Date.now();
    if (this.written.size > 10_000) {
      for (const [known, { at }] of this.written) if (now - at > ECHO_WINDOW_MS) this.written.delete(known);
    }
    this.written.set(path, { hash, at: now });
  }

  /**
   * Whether a file whose stat is as we left it holds someone else's content. If so its mtime is moved
   * on by a microsecond, so that every side sees a change (a stat that looks like ours would hide
   * it for good); returns the entry it has then.
   */
  private getUnseenWrite(path: string, entry: Entry): Entry | null {
    const ours = this.written.get(path);
    if (!ours || entry.kind !== 'file' || entry.size > ECHO_CHECK_MAX) return null;
    if (Date.now() - ours.at > ECHO_WINDOW_MS) {
      this.written.delete(path);
      return null;
    }
    const absolute = join(this.root, path);
    try {
      if (createContentHash().update(readFileSync(absolute)).digest('hex') === ours.hash) return null;
      this.written.delete(path);
      const seconds = Number(BigInt(entry.mtimeNs) / 1000n + 1n) / 1e6;
      utimesSync(absolute, seconds, seconds);
      return getEntry(absolute, path);
    } catch {
      return null; // gone or unreadable meanwhile: its own event follows
    }
  }

  /** Records a move sicksync made, with everything under it. */
  noteMoved(from: string, to: string): void {
    this.watch?.remove(from);
    for (const [path, entry] of [...this.entries]) {
      if (path !== from && !isInside(path, from)) continue;
      this.entries.delete(path);
      const next = to + path.slice(from.length);
      this.entries.set(next, { ...entry, path: next });
      if (entry.kind === 'dir') this.watch?.add(next);
    }
  }

  private remove(path: string, changed: Set<string>): void {
    if (this.entries.get(path)?.kind === 'dir') this.watch?.remove(path);
    for (const known of [...this.entries.keys()]) {
      if (known === path || isInside(known, path)) {
        this.entries.delete(known);
        changed.add(known);
      }
    }
    changed.add(path);
  }

  /**
   * New folders, to be looked at again a moment later: a folder moved in whole gets its watch only
   * once its event is read, and what changed in it before the read below is found again then.
   */
  takeAppearedFolders(): string[] {
    const folders = this.appeared;
    this.appeared = [];
    return folders;
  }

  /** Reads `folder` again and records what is new or different there; returns those paths. */
  async rescan(folder: string): Promise<Set<string>> {
    this.forgetProblems(folder);
    const changed = new Set<string>();
    for (const entry of (await this.readTree(folder)).values()) {
      const known = this.entries.get(entry.path);
      if (!this.isSyncable(entry) || (known && isSameStat(known, entry))) continue;
      this.entries.set(entry.path, entry);
      changed.add(entry.path);
    }
    return changed;
  }

  /** Re-reads the given paths (and their folders, whose times they move); returns what changed. */
  async update(paths: Iterable<string>): Promise<Set<string>> {
    const changed = new Set<string>();
    const sorted = [...paths].sort((a, b) => a.split('/').length - b.split('/').length);
    const parents = new Set<string>();
    for (const path of sorted) {
      await this.refresh(path, changed);
      const parent = getParentPath(path);
      if (parent !== '') parents.add(parent);
    }
    for (const parent of parents) if (!changed.has(parent)) await this.refresh(parent, changed);
    return changed;
  }

  /**
   * The watcher names files by decoded text: a name that is not valid UTF-8 arrives with U+FFFD in
   * it and is found nowhere; reading its folder again (as bytes) reports it. So does a path too
   * long to stat.
   */
  private readEntry(path: string): Entry | null {
    try {
      const entry = getEntry(join(this.root, path), path);
      if (entry === null && path.includes('\uFFFD')) void this.rescan(getParentPath(path)).catch(() => undefined);
      return entry;
    } catch (error) {
      if (!hasErrno(error, 'ENAMETOOLONG')) throw error;
      void this.rescan(getParentPath(path)).catch(() => undefined);
      return null;
    }
  }

  private async refresh(path: string, changed: Set<string>): Promise<void> {
    let entry = this.readEntry(path);
    if (!entry || this.rules.isIgnored(path, entry.kind === 'dir') || !this.isSyncable(entry)) {
      if (this.entries.has(path)) this.remove(path, changed);
      return;
    }
    const previous = this.entries.get(path);
    if (previous && isSameStat(previous, entry)) {
      const unseen = this.getUnseenWrite(path, entry);
      if (!unseen) return;
      entry = unseen;
    }
    if (previous && previous.kind !== entry.kind) this.remove(path, changed);
    this.entries.set(path, entry);
    changed.add(path);
    // A folder that appears whole (moved in, extracted) may not get an event per file.
    if (entry.kind === 'dir' && previous?.kind !== 'dir') {
      this.appeared.push(path);
      for (const found of await this.scan(path)) changed.add(found.path);
    }
  }
}

/** The names in a folder; none when it is gone or unreadable (its own entry says so). */
function listNames(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}

/**
 * Where the link at `path` really leads, as a target of the form paths.ts accepts (`..` first, then
 * names), when that is inside the project; null when it leads outside or to nothing.
 */
function getPlainLinkTarget(root: string, path: string): string | null {
  // .native (libc's realpath): Node's own one applies `..` to the text before following links, so
  // it resolves `dot/..` (with `dot -> .`) to the project itself instead of its parent.
  try {
    const realRoot = realpathSync.native(root);
    const destination = realpathSync.native(join(root, path));
    if (destination !== realRoot && !destination.startsWith(realRoot + sep)) return null;
    const target = relative(realpathSync.native(dirname(join(root, path))), destination) || '.';
    return isLinkTargetInside(path, target) ? target.split(sep).join('/') : null;
  } catch {
    return null;
  }
}
