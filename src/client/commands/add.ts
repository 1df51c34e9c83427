import * as path from 'node:path';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { readGlobalConfig, writeGlobalConfig } from '../config/global-file.js';
import { loadProject } from '../config/load-project.js';
import type { GlobalConfig } from '../config/types.js';

/** Words `sicksync <alias>` cannot mean, because they are commands (DESIGN.md §3). */
export const RESERVED_ALIASES: ReadonlySet<string> = new Set([
  'init',
  'add',
  'remove',
  'list',
  'status',
  'pause',
  'resume',
  'flush',
  'conflicts',
  'resolve',
  'stop',
  'remote',
  'help',
]);

export interface AddOptions {
  cwd: string;
  home: string;
  /** A folder of the project (its root or below); default: cwd. */
  path?: string;
  alias?: string;
}

/** `sicksync add [PATH] [--alias A]`: registers an existing project in the global file. */
export async function runAdd({ cwd, home, path: target, alias }: AddOptions): Promise<string[]> {
  // Loading validates the project as a whole: a broken project file is refused here, not at sync time.
  const project = await loadProject({ cwd: path.resolve(cwd, target ?? '.'), home });
  const global = await readGlobalConfig(home);
  const chosen = alias ?? project.name;
  validateAlias(chosen);
  const { config, replaced } = getRegistered(global, chosen, project.root);
  await writeGlobalConfig(config);
  return [
    `${replaced ? 'updated' : 'registered'} "${chosen}" → ${project.root} in ${global.path}`,
    `start syncing it from anywhere with "sicksync ${chosen}"`,
  ];
}

/** Refuses aliases the command line could not tell apart from a command or a flag. */
export function validateAlias(alias: string): void {
  if (RESERVED_ALIASES.has(alias)) {
    throw new SicksyncError(ErrorCode.USAGE, `"${alias}" cannot be an alias: it is a sicksync command. Choose another with --alias NAME.`);
  }
  if (!/^[^\s/\\.-][^\s/\\]*$/u.test(alias)) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      `"${alias}" cannot be an alias: use letters, digits, "-", "_" or "." without spaces or slashes, ` +
        `not starting with "-" or ".". Choose one with --alias NAME.`,
    );
  }
}

/**
 * Returns the global configuration with `alias` pointing at `root`. The same root registered
 * under another alias is updated; an alias already taken by another path is a usage error.
 */
export function getRegistered(global: GlobalConfig, alias: string, root: string): { config: GlobalConfig; replaced: boolean } {
  const absolute = path.resolve(root);
  const owner = global.projects.find((project) => project.alias === alias && path.resolve(project.path) !== absolute);
  if (owner) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      `the alias "${alias}" is already used by ${owner.path}. Choose another with --alias NAME, ` +
        `or run "sicksync remove ${alias}" first.`,
    );
  }
  const index = global.projects.findIndex((project) => path.resolve(project.path) === absolute);
  const entry = { alias, path: absolute, active: true };
  const projects = [...global.projects];
  if (index === -1) projects.push(entry);
  else projects[index] = entry;
  return { config: { ...global, projects }, replaced: index !== -1 };
}
