import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cosmiconfig, type Loader } from 'cosmiconfig';
import { ConfigError } from '../../shared/errors.js';

/** The file `sicksync init` writes; in the home folder the same name is the global file. */
export const PRIMARY_PROJECT_FILE = '.sicksync-config.json';

/** Every accepted name, in the order they are tried within one folder (DESIGN.md §2). */
export const PROJECT_FILE_NAMES = [
  PRIMARY_PROJECT_FILE,
  '.sicksyncrc',
  '.sicksyncrc.json',
  '.sicksyncrc.yaml',
  '.sicksyncrc.yml',
  'sicksync.config.js',
  'sicksync.config.cjs',
  'sicksync.config.mjs',
  // Last: a dedicated file in the same folder is the more deliberate choice.
  'package.json',
] as const;

export interface FoundProjectFile {
  /** Absolute path of the file read. */
  configPath: string;
  /** The folder holding it: the project root. */
  root: string;
  /** The file's content as parsed, not yet validated (`{}` for an empty file). */
  raw: unknown;
}

/**
 * The top-most folder a search from `cwd` looks in: the folder just below `home` on the way up
 * (home's own files are never project files), or the filesystem root when `cwd` is outside home.
 * Null when `cwd` is home itself: there is nothing to search.
 */
export function getSearchTop(cwd: string, home: string): string | null {
  const from = path.resolve(cwd);
  const relative = path.relative(path.resolve(home), from);
  if (relative === '') return null;
  if (isOutside(relative)) return path.parse(from).root;
  return path.join(path.resolve(home), relative.split(path.sep)[0] ?? '');
}

/** Walks up from `cwd` (jshint style) to the first project file, stopping below `home`. */
export async function findProjectFile(cwd: string, home: string): Promise<FoundProjectFile | null> {
  const top = getSearchTop(cwd, home);
  return top === null ? null : searchProjectFile(path.resolve(cwd), top);
}

/** Looks for a project file in `dir` only, e.g. the root a global alias points to. */
export async function findProjectFileIn(dir: string): Promise<FoundProjectFile | null> {
  const from = path.resolve(dir);
  return searchProjectFile(from, from);
}

/** The name of the project file in `dir`, without loading it (a JS file is not run). */
export async function getProjectFileNameIn(dir: string): Promise<string | null> {
  for (const name of PROJECT_FILE_NAMES) {
    const file = path.join(dir, name);
    if (name === 'package.json') {
      if (await hasPackageKey(file)) return name;
    } else if (await isFile(file)) {
      return name;
    }
  }
  return null;
}

async function searchProjectFile(from: string, top: string): Promise<FoundProjectFile | null> {
  const explorer = cosmiconfig('sicksync', {
    // 'global' is the strategy that walks up to `stopDir` (inclusive), whatever holds package.json.
    searchStrategy: 'global',
    stopDir: top,
    searchPlaces: [...PROJECT_FILE_NAMES],
    packageProp: 'sicksync',
    // An empty file is still the user's project file: report its problems rather than skip it.
    ignoreEmptySearchPlaces: false,
    // Files change between calls (init, tests): never answer from a cache.
    cache: false,
    loaders: { '.js': loadModule, '.cjs': loadModule, '.mjs': loadModule },
  });
  let result;
  try {
    result = await explorer.search(from);
  } catch (error) {
    const file = (error as { filepath?: unknown }).filepath;
    if (typeof file !== 'string') throw error;
    if (!isOurs(file, from, top)) return null;
    throw new ConfigError([{ file, field: '', message: `cannot be read: ${getErrorReason(error)}` }]);
  }
  // After the walk, cosmiconfig also looks in its own global folder (~/.config/sicksync/config.*),
  // which is not a sicksync location: a hit there counts as nothing found.
  if (!result || !isOurs(result.filepath, from, top)) return null;
  return { configPath: result.filepath, root: path.dirname(result.filepath), raw: result.config ?? {} };
}

/**
 * Plain import() for every JS flavour: cosmiconfig's own loader retries a failed import with
 * require(), which for a broken .mjs replaces the real syntax error with a confusing one.
 */
const loadModule: Loader = async (filepath) => {
  const loaded = (await import(pathToFileURL(filepath).href)) as { default?: unknown };
  return loaded.default;
};

/** The one line of a parser's message that says what is wrong, without code frames. */
function getErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line !== '' && !/^(>|\d*\s*\||-+\^|(JSON|YAML) Error in )/.test(line));
  return (reason ?? message).replace(/ while parsing '.*$/, '');
}

function isOurs(file: string, from: string, top: string): boolean {
  const dir = path.dirname(file);
  const names: readonly string[] = PROJECT_FILE_NAMES;
  return names.includes(path.basename(file)) && isSameOrInside(dir, from) && isSameOrInside(top, dir);
}

function isSameOrInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return !isOutside(relative);
}

/** For a `path.relative` result: does it leave the folder it was computed from? */
function isOutside(relative: string): boolean {
  return relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function hasPackageKey(file: string): Promise<boolean> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && 'sicksync' in parsed;
  } catch {
    // A missing or broken package.json is simply not a sicksync project file.
    return false;
  }
}
