import * as path from 'node:path';
import * as z from 'zod';
import { ConfigError, ErrorCode, SicksyncError, type ConfigProblem } from '../../shared/errors.js';
import { SYNC_MODES } from '../../shared/sync-mode.js';
import { normalizeDestination } from './destination.js';
import { findProjectFile, findProjectFileIn, getSearchTop, PRIMARY_PROJECT_FILE, type FoundProjectFile } from './discover.js';
import { readGlobalConfig } from './global-file.js';
import { destinationSchema, getFieldPath, parseConfigFile, projectFileSchema, type ProjectFile } from './schema.js';
import type { ConfigOverrides, DestinationSpec, GlobalConfig, ProjectConfig } from './types.js';

/** The lowest layer of the precedence: built-in defaults < global `defaults` < project file < flags. */
export const PROJECT_DEFAULTS = {
  mode: 'push',
  excludes: [],
  excludesFile: [],
  rules: [],
  conflictPolicy: 'keep-both',
  deleteGuard: 0.3,
  history: { versions: 10, days: 30 },
} as const satisfies Omit<ProjectConfig, 'name' | 'root' | 'configPath' | 'destinations'>;

/** How problems in command-line values are located, since they come from no file. */
export const COMMAND_LINE = 'command line';

const overridesSchema = z.strictObject({
  mode: z.enum(SYNC_MODES).optional(),
  excludes: z.array(z.string()).optional(),
  deleteGuard: z.number().min(0).max(1).optional(),
  destinations: z.array(z.string().min(1)).optional(),
});

export interface LoadProjectOptions {
  cwd: string;
  home: string;
  overrides?: ConfigOverrides;
}

/** Finds the project from `cwd`, validates it as a whole and merges every layer. */
export async function loadProject({ cwd, home, overrides = {} }: LoadProjectOptions): Promise<ProjectConfig> {
  const found = await findProjectFile(cwd, home);
  const global = await readGlobalConfig(home);
  if (!found) throw getNotFoundError(cwd, home, global);
  return validateProject(found, global, { home, overrides });
}

/** Loads the project a global alias points to, from any cwd. */
export async function loadProjectByAlias(
  alias: string,
  { home, overrides = {} }: { home: string; overrides?: ConfigOverrides },
): Promise<ProjectConfig> {
  const global = await readGlobalConfig(home);
  const entry = global.projects.find((project) => project.alias === alias);
  if (!entry) throw getUnknownAliasError(alias, global);
  // Home's own file is the global file, never a project file.
  const found = path.resolve(entry.path) === path.resolve(home) ? null : await findProjectFileIn(entry.path);
  if (!found) {
    throw new SicksyncError(
      ErrorCode.CONFIG_NOT_FOUND,
      `project "${alias}" points to ${entry.path}, which no longer holds a sicksync project file ` +
        `(${PRIMARY_PROJECT_FILE} or another accepted name). Restore the file, or run "sicksync remove ${alias}" ` +
        `and register the new place with "sicksync add PATH --alias ${alias}".`,
    );
  }
  return validateProject(found, global, { home, overrides });
}

/**
 * Validates a project file as a whole against every layer and returns the merged project.
 * Throws one ConfigError listing every problem: of the file, of each destination, of the flags.
 */
export function validateProject(
  found: FoundProjectFile,
  global: GlobalConfig,
  { home, overrides = {} }: { home: string; overrides?: ConfigOverrides },
): ProjectConfig {
  const parsed = parseConfigFile(projectFileSchema, found.configPath, found.raw);
  const flags = parseConfigFile(overridesSchema, COMMAND_LINE, overrides);
  const problems = [...(parsed.problems ?? []), ...(flags.problems ?? [])];
  const file: ProjectFile = parsed.data ?? {};
  const cli: ConfigOverrides = flags.data ?? {};
  const defaults = global.defaults;

  const mode = cli.mode ?? file.mode ?? defaults.mode ?? PROJECT_DEFAULTS.mode;
  const destinations = getDestinations(found, { home, mode, cli, problems });
  if (problems.length > 0) {
    // The file's problems first, then the flags' (sort is stable, so each keeps its order).
    problems.sort((x, y) => Number(x.file === COMMAND_LINE) - Number(y.file === COMMAND_LINE));
    throw new ConfigError(problems);
  }
  return {
    name: file.project ?? path.basename(found.root),
    root: found.root,
    configPath: found.configPath,
    destinations,
    mode,
    excludes: [...(defaults.excludes ?? []), ...(file.excludes ?? []), ...(cli.excludes ?? [])],
    excludesFile: file.excludesFile ?? defaults.excludesFile ?? [...PROJECT_DEFAULTS.excludesFile],
    rules: file.rules ?? defaults.rules ?? [...PROJECT_DEFAULTS.rules],
    conflictPolicy: file.conflictPolicy ?? defaults.conflictPolicy ?? PROJECT_DEFAULTS.conflictPolicy,
    deleteGuard: cli.deleteGuard ?? file.deleteGuard ?? defaults.deleteGuard ?? PROJECT_DEFAULTS.deleteGuard,
    history: file.history ?? defaults.history ?? { ...PROJECT_DEFAULTS.history },
  };
}

/**
 * Normalizes the destinations of the flags, or else of the file, pushing their problems. Entries
 * the schema already refused are skipped, so each problem is reported once.
 */
function getDestinations(
  found: FoundProjectFile,
  context: { home: string; mode: ProjectConfig['mode']; cli: ConfigOverrides; problems: ConfigProblem[] },
): DestinationSpec[] {
  const { cli, problems } = context;
  const fromFlags = cli.destinations !== undefined;
  const file = fromFlags ? COMMAND_LINE : found.configPath;
  const raw: unknown = fromFlags ? cli.destinations : (found.raw as { destinations?: unknown } | null)?.destinations;
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
    problems.push({ file, field: 'destinations', message: 'required: add at least one, e.g. "devbox:~/src/web"' });
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const destinations: DestinationSpec[] = [];
  const seen = new Map<string, string>();
  raw.forEach((value: unknown, index) => {
    const field = getFieldPath(['destinations', index]);
    const input = destinationSchema.safeParse(value);
    if (!input.success) return;
    try {
      const spec = normalizeDestination(input.data, {
        projectRoot: found.root,
        defaultMode: context.mode,
        home: context.home,
        file,
        field,
      });
      const first = seen.get(spec.id);
      if (first) problems.push({ file, field, message: `same destination as ${first} (${spec.id})` });
      seen.set(spec.id, first ?? field);
      destinations.push(spec);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  });
  return destinations;
}

export function getUnknownAliasError(alias: string, global: GlobalConfig): SicksyncError {
  return new SicksyncError(
    ErrorCode.UNKNOWN_ALIAS,
    `unknown project alias "${alias}". ${getKnownAliasesSentence(global)} ` +
      `To register a project under this alias, run "sicksync add PATH --alias ${alias}".`,
  );
}

function getNotFoundError(cwd: string, home: string, global: GlobalConfig): SicksyncError {
  const from = path.resolve(cwd);
  const top = getSearchTop(from, home);
  const searched =
    top === null
      ? `${from} is your home folder, whose ${PRIMARY_PROJECT_FILE} is the global file, not a project file`
      : `searched ${from}${top === from ? '' : ` and every folder above it up to ${top}`}`;
  return new SicksyncError(
    ErrorCode.CONFIG_NOT_FOUND,
    `no sicksync project file found: ${searched}. ${getKnownAliasesSentence(global)} ` +
      `To make this folder a project, run "sicksync init --to DEST" (e.g. --to devbox:~/src/web); ` +
      `to sync a registered project from anywhere, run "sicksync <alias>".`,
  );
}

function getKnownAliasesSentence(global: GlobalConfig): string {
  if (global.projects.length === 0) return `No projects are registered in ${global.path} yet.`;
  return `Known aliases: ${global.projects.map((project) => project.alias).join(', ')}.`;
}
