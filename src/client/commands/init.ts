import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ErrorCode, hasErrno, SicksyncError } from '../../shared/errors.js';
import { getProjectFileNameIn, PRIMARY_PROJECT_FILE } from '../config/discover.js';
import { getGlobalConfigPath, readGlobalConfig, writeGlobalConfig } from '../config/global-file.js';
import { validateProject } from '../config/load-project.js';
import { getRegistered, validateAlias } from './add.js';

export interface InitOptions {
  cwd: string;
  home: string;
  alias?: string;
  /** Destinations as written after `--to`, in order. */
  to: string[];
}

/** Excluded by every new project: never worth syncing, and heavy. */
export const INIT_EXCLUDES = ['.git/', 'node_modules/'];

/**
 * `sicksync init [--alias A] [--to DEST]...`: writes a project file in cwd and registers it in
 * the global file. Everything is checked before anything is written.
 */
export async function runInit({ cwd, home, alias, to }: InitOptions): Promise<string[]> {
  const root = path.resolve(cwd);
  const configPath = path.join(root, PRIMARY_PROJECT_FILE);
  if (root === path.resolve(home)) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      `cannot make your home folder a project: ${getGlobalConfigPath(home)} is the global file. ` +
        `Run "sicksync init" inside the project's folder.`,
    );
  }
  const existing = await getProjectFileNameIn(root);
  if (existing) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      `${path.join(root, existing)} already exists, so this folder is already a project. ` +
        `Edit that file, or run "sicksync add" to register it in the global file.`,
    );
  }
  if (to.length === 0) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      'init needs at least one destination, e.g. "sicksync init --to devbox:~/src/web" (repeat --to for more).',
    );
  }
  const name = path.basename(root);
  const raw = { project: name, destinations: to, mode: 'push', excludes: INIT_EXCLUDES };
  const global = await readGlobalConfig(home);
  const project = validateProject({ configPath, root, raw }, global, { home });
  const chosen = alias ?? name;
  validateAlias(chosen);
  const { config } = getRegistered(global, chosen, root);

  try {
    // 'wx': a file created meanwhile by someone else is never overwritten.
    await writeFile(configPath, `${JSON.stringify(raw, null, 2)}\n`, { flag: 'wx' });
  } catch (error) {
    if (!hasErrno(error, 'EEXIST')) throw error;
    throw new SicksyncError(ErrorCode.USAGE, `${configPath} was created meanwhile; it was left as it is.`);
  }
  await writeGlobalConfig(config);
  const ids = project.destinations.map((destination) => destination.id).join(', ');
  return [
    `wrote ${configPath} (project "${name}", mode push, destinations: ${ids})`,
    `registered "${chosen}" → ${root} in ${global.path}`,
    `start syncing with "sicksync ${chosen}" from anywhere, or "sicksync" inside ${root}`,
  ];
}
