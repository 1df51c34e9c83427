import { readGlobalConfig, writeGlobalConfig } from '../config/global-file.js';
import { getUnknownAliasError } from '../config/load-project.js';

export interface RemoveOptions {
  home: string;
  alias: string;
}

/** `sicksync remove <alias>`: forgets a project in the global file; its own files are untouched. */
export async function runRemove({ home, alias }: RemoveOptions): Promise<string[]> {
  const global = await readGlobalConfig(home);
  const entry = global.projects.find((project) => project.alias === alias);
  if (!entry) throw getUnknownAliasError(alias, global);
  await writeGlobalConfig({ ...global, projects: global.projects.filter((project) => project !== entry) });
  return [`removed "${alias}" (${entry.path}) from ${global.path}; the project's own files are left as they are`];
}
