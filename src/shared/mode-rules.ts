/**
 * `rules: [{ "pattern": "results/**", "mode": "pull" }]`: the mode of each path, matched by the same
 * gitignore engine as excludes. The last rule that matches wins, as a later gitignore line does;
 * a path no rule matches has its destination's mode.
 */
import ignore, { type Ignore } from 'ignore';
import type { SyncMode } from './sync-mode.js';

export interface ModeRule {
  pattern: string;
  mode: SyncMode;
}

export type ModeOf = (path: string, isDir: boolean) => SyncMode;

export function createModeOf(fallback: SyncMode, rules: readonly ModeRule[]): ModeOf {
  if (rules.length === 0) return () => fallback;
  const matchers: [Ignore, SyncMode][] = rules.map((rule) => [ignore({ allowRelativePaths: false }).add(rule.pattern), rule.mode]);
  const match = (candidate: string): SyncMode | null => {
    for (let i = matchers.length - 1; i >= 0; i -= 1) {
      const [matcher, mode] = matchers[i]!;
      if (matcher.ignores(candidate)) return mode;
    }
    return null;
  };
  return (path, isDir) => {
    const own = match(isDir ? `${path}/` : path);
    if (own) return own;
    // A folder that holds paths of another mode (`results/` under `results/**`) is made on both
    // sides and removed only when removed on one side and untouched on the other: neither mode's
    // changes inside it may be stopped by the folder itself.
    if (isDir && match(`${path}/\u0001`) !== null && match(`${path}/\u0001`) !== fallback) return 'bidirectional';
    return fallback;
  };
}

/** Whether any path may come back from the destination. */
export function hasWayBack(fallback: SyncMode, rules: readonly ModeRule[]): boolean {
  return fallback !== 'push' || rules.some((rule) => rule.mode !== 'push');
}
