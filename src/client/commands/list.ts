import * as path from 'node:path';
import { getProjectFileNameIn } from '../config/discover.js';
import { readGlobalConfig } from '../config/global-file.js';

export interface ListOptions {
  home: string;
}

/** `sicksync list`: one line per registered project, in the global file's order. */
export async function runList({ home }: ListOptions): Promise<string[]> {
  const global = await readGlobalConfig(home);
  if (global.projects.length === 0) {
    return [
      `no projects registered in ${global.path} yet: run "sicksync init --to DEST" in a project folder, ` +
        `or "sicksync add PATH" for an existing one`,
    ];
  }
  const aliasWidth = Math.max(...global.projects.map((project) => project.alias.length));
  const pathWidth = Math.max(...global.projects.map((project) => project.path.length));
  return Promise.all(
    global.projects.map(async (project) => {
      // Home's own file is the global file, so a project registered at home has none of its own.
      const isHome = path.resolve(project.path) === path.resolve(home);
      const missing = isHome || (await getProjectFileNameIn(project.path)) === null;
      const state = project.active ? 'active' : 'inactive';
      const line = `${project.alias.padEnd(aliasWidth)}  ${project.path.padEnd(pathWidth)}  ${state}`;
      return missing ? `${line} (missing project file)` : line;
    }),
  );
}
