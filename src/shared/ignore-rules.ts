/**
 * One ignore engine for scan, watch and the daemon: gitignore syntax through the `ignore` package,
 * which follows the gitignore spec (negation, anchoring, `dir/` patterns) better than a hand-rolled matcher.
 */
import ignore, { type Ignore } from 'ignore';

/**
 * Never synced, whatever the config says: our own temporary files and state. A temporary file is
 * `.<name>.sicksync-tmp-<random>` next to its target (see src/shared/tree/atomic-write.ts).
 */
export const BUILTIN_EXCLUDES = ['*.sicksync-tmp-*', '/.sicksync/'];

export interface IgnoreRules {
  /** `path` is relative POSIX; `isDir` matters for `dir/` patterns. */
  isIgnored(path: string, isDir: boolean): boolean;
  /** The patterns, to hand to the other side. */
  readonly patterns: readonly string[];
}

// A matcher of its own, so no `!pattern` of the user's can re-include them.
const builtins: Ignore = ignore({ allowRelativePaths: false }).add(BUILTIN_EXCLUDES);

export function createIgnoreRules(patterns: readonly string[]): IgnoreRules {
  const engine: Ignore = ignore({ allowRelativePaths: false }).add([...patterns]);
  return {
    patterns: [...patterns],
    isIgnored(path, isDir) {
      if (path === '') return false;
      const candidate = isDir ? `${path}/` : path;
      return builtins.ignores(candidate) || engine.ignores(candidate);
    },
  };
}

/** Splits the text of a gitignore-style file into patterns (comments and blanks are handled by `ignore`). */
export function getPatternsFromText(text: string): string[] {
  return text.split(/\r?\n/);
}
