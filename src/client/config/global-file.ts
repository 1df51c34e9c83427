import { randomBytes } from 'node:crypto';
import { mkdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ConfigError, hasErrno, type ConfigProblem } from '../../shared/errors.js';
import { globalFileSchema, parseConfigFile } from './schema.js';
import type { GlobalConfig } from './types.js';

/** The global file shares its name with the primary project file; it lives in the home folder. */
export function getGlobalConfigPath(home: string): string {
  return path.join(home, '.sicksync-config.json');
}

/** Reads the global file; a missing (or blank) file is an empty configuration. */
export async function readGlobalConfig(home: string): Promise<GlobalConfig> {
  const file = getGlobalConfigPath(home);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return { path: file, projects: [], defaults: {} };
    throw error;
  }
  if (text.trim() === '') return { path: file, projects: [], defaults: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ file, field: '', message: `is not valid JSON: ${detail}` }]);
  }
  const parsed = parseConfigFile(globalFileSchema, file, raw);
  if (parsed.problems) throw new ConfigError(parsed.problems);
  const duplicates = getDuplicateProblems(file, parsed.data.projects);
  if (duplicates.length > 0) throw new ConfigError(duplicates);
  return { path: file, projects: parsed.data.projects, defaults: parsed.data.defaults };
}

/**
 * Writes the global file atomically: a temporary file in the same folder, then a rename, so a
 * crash or a concurrent reader never sees half a file.
 */
export async function writeGlobalConfig(config: GlobalConfig): Promise<void> {
  const target = await getRealTarget(config.path);
  const body: Record<string, unknown> = { projects: config.projects };
  if (Object.keys(config.defaults).length > 0) body['defaults'] = config.defaults;
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await mkdir(path.dirname(target), { recursive: true });
  const mode = await getMode(target);
  try {
    await writeFile(temp, `${JSON.stringify(body, null, 2)}\n`, mode === undefined ? {} : { mode });
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** Aliases name projects on the command line and paths are synced by `--all`: both must be unique. */
function getDuplicateProblems(file: string, projects: GlobalConfig['projects']): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const aliases = new Map<string, number>();
  const paths = new Map<string, number>();
  projects.forEach((project, index) => {
    const sameAlias = aliases.get(project.alias);
    const samePath = paths.get(path.resolve(project.path));
    if (sameAlias !== undefined) {
      problems.push({ file, field: `projects[${index}].alias`, message: `"${project.alias}" is already used by projects[${sameAlias}]` });
    }
    if (samePath !== undefined) {
      problems.push({ file, field: `projects[${index}].path`, message: `same path as projects[${samePath}]` });
    }
    aliases.set(project.alias, sameAlias ?? index);
    paths.set(path.resolve(project.path), samePath ?? index);
  });
  return problems;
}

/** Dotfile repositories often symlink the global file: write through the link, not over it. */
async function getRealTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return file;
    throw error;
  }
}

async function getMode(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mode & 0o777;
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}
