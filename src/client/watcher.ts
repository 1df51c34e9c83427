/**
 * The only module that talks to chokidar: it hands the rest of the program batches of relative
 * paths that may have changed, never raw events. Whatever a path became is found by stat-ing it.
 */
import { watch, type FSWatcher } from 'chokidar';
import { lstatSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createBatcher, createLeadCheck } from '../shared/batcher.js';
import type { IgnoreRules } from '../shared/ignore-rules.js';

export interface Watcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function watchTree(
  root: string,
  rules: IgnoreRules,
  onBatch: (paths: Set<string>) => void,
  onError: (error: Error) => void,
  /** Folders the project's index holds already: a change there is no new folder (batcher.ts). */
  isKnownFolder: (path: string) => boolean,
): Watcher {
  const toRelative = (absolute: string): string => relative(root, absolute).split(sep).join('/');
  const batcher = createBatcher(onBatch, createLeadCheck(root, isKnownFolder));

  const handleEvent = (absolute: string): void => {
    const path = toRelative(absolute);
    if (path === '' || path.startsWith('..')) return;
    batcher.add(path);
  };

  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    followSymlinks: false,
    // Off: it holds back unlinks for 100 ms, which would split a rename into two batches.
    atomic: false,
    ignored: (absolute, stats) => {
      const path = toRelative(absolute);
      if (path === '' || path.startsWith('..')) return false;
      return rules.isIgnored(path, stats ? stats.isDirectory() : isDirectory(absolute));
    },
  });
  for (const event of ['add', 'addDir', 'change', 'unlink', 'unlinkDir'] as const) watcher.on(event, handleEvent);
  // chokidar drops a `change` whose mtime did not move once the file was read (handler.js: the
  // atime check), which hides chmod-only changes; fs.watch's raw events still carry them. The
  // event names either a file in the watched folder or the watched file itself: both are
  // candidates, and stat-ing them tells which one changed.
  watcher.on('raw', (_event, name, details) => {
    const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (!watched) return;
    handleEvent(watched);
    if (name) handleEvent(join(watched, name));
  });
  watcher.on('error', (error) => onError(error instanceof Error ? error : new Error(String(error))));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      batcher.flush();
      await watcher.close();
    },
  };
}
