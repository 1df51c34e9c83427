/**
 * Watches a destination folder for changes made there (by a build, an `npm install`, a person), for
 * clients that sync it both ways: one inotify watch per folder (fs.watch on a folder reports what
 * happens to the names in it), added and dropped as the tree index learns of folders. Node's own
 * recursive mode is not used: on Linux it watches each file by inode, and so goes deaf to a file
 * replaced by rename, which is how every atomic writer (sicksync included) saves.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { isInside } from '../shared/entry.js';
import { createBatcher, createLeadCheck } from '../shared/batcher.js';

export class RootWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly batcher;
  private closed = false;

  constructor(
    private readonly root: string,
    onBatch: (paths: Set<string>) => void,
    private readonly onError: (error: Error) => void,
    /** Folders the destination's index holds already: a change there is no new folder (batcher.ts). */
    isKnownFolder: (path: string) => boolean,
  ) {
    this.batcher = createBatcher((paths) => this.closed || onBatch(paths), createLeadCheck(root, isKnownFolder));
  }

  /** Watches `folder` (relative; '' for the root), if not watched yet. */
  add(folder: string): void {
    if (this.closed || this.watchers.has(folder)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(join(this.root, folder), { persistent: false, encoding: 'utf8' });
    } catch (error) {
      // Gone already, or no watch left (inotify's limit): the folder's next scan still sees it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.onError(error as Error);
      return;
    }
    watcher.on('change', (_event, name) => {
      if (typeof name === 'string' && name !== '') this.batcher.add(folder ? `${folder}/${name}` : name);
      else if (folder !== '') this.batcher.add(folder);
    });
    watcher.on('error', () => this.remove(folder));
    this.watchers.set(folder, watcher);
  }

  /** Stops watching `folder` and every folder in it. */
  remove(folder: string): void {
    for (const [watched, watcher] of this.watchers) {
      if (watched !== folder && !isInside(watched, folder)) continue;
      watcher.close();
      this.watchers.delete(watched);
    }
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}
