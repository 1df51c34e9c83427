/**
 * Watches a tree: one inotify watch per folder (fs.watch on a folder reports what happens to the
 * names in it), added and dropped as the tree's index takes folders in and lets them go
 * (TreeIndex.follow). It holds no state per file, so 100,000 files cost what their folders cost.
 * Node's own recursive mode is not used: on Linux it watches each file by inode, and so goes deaf
 * to a file replaced by rename, which is how every atomic writer (sicksync included) saves.
 *
 * A folder that gets no watch because the user's inotify watches are used up (ENOSPC) is polled
 * instead: every POLL_MS its names are read and stat-ed again (TreeIndex.poll), which also finds
 * what was deleted there, and a watch is tried again, in case others were given back.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { isInside } from './entry.js';
import { createBatcher, createLeadCheck } from './batcher.js';
import { hasErrno } from './errors.js';

/** How often folders without a watch are read again. */
export const POLL_MS = 2000;

export interface RootWatcherOptions {
  onBatch: (paths: Set<string>) => void;
  onError: (error: Error) => void;
  /** Folders the tree's index holds already: a change there is no new folder (batcher.ts). */
  isKnownFolder: (path: string) => boolean;
  /** Reads the given folders again; the next round waits for it. */
  poll: (folders: Set<string>) => Promise<void>;
  /** Whether the watches alone keep the process alive (a client whose destinations are local folders). */
  persistent?: boolean;
}

export class RootWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  /** Folders that could not be watched for want of inotify watches. */
  private readonly polled = new Set<string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly batcher;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly options: RootWatcherOptions,
  ) {
    this.batcher = createBatcher((paths) => this.closed || options.onBatch(paths), createLeadCheck(root, options.isKnownFolder));
  }

  /** Folders read by polling now, for want of inotify watches. */
  get polledCount(): number {
    return this.polled.size;
  }

  /** Watches `folder` (relative; '' for the root), if not watched yet. */
  add(folder: string): void {
    if (this.closed || this.watchers.has(folder)) return;
    if (!this.tryWatch(folder)) return;
    this.polled.delete(folder);
  }

  /** Whether `folder` is watched now; a folder left without a watch for want of one is polled. */
  private tryWatch(folder: string): boolean {
    let watcher: FSWatcher;
    try {
      watcher = watch(join(this.root, folder), { persistent: this.options.persistent ?? false, encoding: 'utf8' });
    } catch (error) {
      if (hasErrno(error, 'ENOSPC')) {
        this.polled.add(folder);
        this.schedulePoll();
      } else if (!hasErrno(error, 'ENOENT', 'ENOTDIR', 'EACCES', 'EPERM')) {
        // Gone already, or unreadable (the scan names it): nothing to watch. Anything else is news.
        this.options.onError(error as Error);
      }
      return false;
    }
    watcher.on('change', (_event, name) => {
      if (typeof name === 'string' && name !== '') this.batcher.add(folder ? `${folder}/${name}` : name);
      else if (folder !== '') this.batcher.add(folder);
    });
    watcher.on('error', () => this.remove(folder));
    this.watchers.set(folder, watcher);
    return true;
  }

  /** Stops watching (or polling) `folder` and every folder in it. */
  remove(folder: string): void {
    if (folder === '') return this.clear();
    // Folders are watched from the top down, and one that loses its watch loses those inside it
    // (its 'error'): nothing is watched inside a folder that is neither watched nor polled. Asked
    // for every path a rename moves, so this is worth knowing.
    if (!this.watchers.has(folder) && !this.polled.has(folder)) return;
    for (const [watched, watcher] of this.watchers) {
      if (watched !== folder && !isInside(watched, folder)) continue;
      watcher.close();
      this.watchers.delete(watched);
    }
    for (const polled of this.polled) if (polled === folder || isInside(polled, folder)) this.polled.delete(polled);
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.closed) return;
    this.pollTimer = setTimeout(() => void this.pollRound(), POLL_MS);
    if (!this.options.persistent) this.pollTimer.unref();
  }

  private async pollRound(): Promise<void> {
    const folders = new Set(this.polled);
    // Watches others gave back serve again; the round still reads those folders, for what changed
    // while they had none.
    for (const folder of folders) if (this.tryWatch(folder)) this.polled.delete(folder);
    try {
      await this.options.poll(folders);
    } catch (error) {
      this.options.onError(error as Error);
    }
    this.pollTimer = null;
    if (this.polled.size > 0) this.schedulePoll();
  }

  private clear(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.polled.clear();
  }

  /** Hands over what is pending, then goes deaf. */
  close(): void {
    this.batcher.flush();
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.clear();
  }
}
