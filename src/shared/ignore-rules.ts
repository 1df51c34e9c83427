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

/**
 * `ignore` remembers the answer for every path it was asked about, for good: on a tree of 100,000
 * files that is most of a client's memory after its scan. Its matchers are made anew after this
 * many questions, which keeps the memo of the folders a walk is in (what makes it fast) and lets
 * the rest go.
 */
const QUESTIONS_PER_MATCHER = 20_000;

export function createIgnoreRules(patterns: readonly string[]): IgnoreRules {
  // The built-in patterns get a matcher of their own, so no `!pattern` of the user's can re-include them.
  const make = (): [Ignore, Ignore] => [
    ignore({ allowRelativePaths: false }).add(BUILTIN_EXCLUDES),
    ignore({ allowRelativePaths: false }).add([...patterns]),
  ];
  let [builtins, engine] = make();
  let questions = 0;
  return {
    patterns: [...patterns],
    isIgnored(path, isDir) {
      if (path === '') return false;
      if (++questions > QUESTIONS_PER_MATCHER) {
        questions = 0;
        [builtins, engine] = make();
      }
      const candidate = isDir ? `${path}/` : path;
      return builtins.ignores(candidate) || engine.ignores(candidate);
    },
  };
}

/** Splits the text of a gitignore-style file into patterns (comments and blanks are handled by `ignore`). */
export function getPatternsFromText(text: string): string[] {
  return text.split(/\r?\n/);
}
