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
 * BUILTIN_EXCLUDES, matched by hand: every path of a scan is asked, and `ignore` took 77 ms of a
 * 20,000-file scan for these two patterns alone. A name holding `.sicksync-tmp-` matches the first
 * at any depth (so does all that is in such a folder); the second is the top `.sicksync` folder
 * and what is in it. test/shared/ignore-rules.test.ts holds both matchers to the same answers.
 */
export function isBuiltinExcluded(path: string, isDir: boolean): boolean {
  return path.includes('.sicksync-tmp-') || path.startsWith('.sicksync/') || (isDir && path === '.sicksync');
}

/**
 * `ignore` remembers the answer for every path it was asked about, for good: on a tree of 100,000
 * files that is most of a client's memory after its scan. Its matcher is made anew after this many
 * questions, which keeps the memo of the folders a walk is in (what makes it fast) and lets the
 * rest go.
 */
const QUESTIONS_PER_MATCHER = 20_000;

export function createIgnoreRules(patterns: readonly string[]): IgnoreRules {
  // The built-in patterns are matched on their own, so no `!pattern` of the user's can re-include them.
  const isUserPattern = (line: string): boolean => line.trim() !== '' && !line.startsWith('#');
  if (!patterns.some(isUserPattern)) {
    return { patterns: [...patterns], isIgnored: (path, isDir) => path !== '' && isBuiltinExcluded(path, isDir) };
  }
  const make = (): Ignore => ignore({ allowRelativePaths: false }).add([...patterns]);
  let engine = make();
  let questions = 0;
  return {
    patterns: [...patterns],
    isIgnored(path, isDir) {
      if (path === '') return false;
      if (isBuiltinExcluded(path, isDir)) return true;
      if (++questions > QUESTIONS_PER_MATCHER) {
        questions = 0;
        engine = make();
      }
      return engine.ignores(isDir ? `${path}/` : path);
    },
  };
}

/** Splits the text of a gitignore-style file into patterns (comments and blanks are handled by `ignore`). */
export function getPatternsFromText(text: string): string[] {
  return text.split(/\r?\n/);
}
