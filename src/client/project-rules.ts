import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasErrno } from '../shared/errors.js';
import { createIgnoreRules, getPatternsFromText, type IgnoreRules } from '../shared/ignore-rules.js';
import type { ProjectConfig } from './config/types.js';

/**
 * The project's ignore rules: `excludes`, then the patterns of every `excludesFile`. A listed file
 * that does not exist adds nothing, as git treats a missing .gitignore.
 */
export async function loadProjectRules(project: Pick<ProjectConfig, 'root' | 'excludes' | 'excludesFile'>): Promise<IgnoreRules> {
  const patterns = [...project.excludes];
  for (const file of project.excludesFile) {
    try {
      patterns.push(...getPatternsFromText(await readFile(join(project.root, file), 'utf8')));
    } catch (error) {
      if (!hasErrno(error, 'ENOENT')) throw error;
    }
  }
  return createIgnoreRules(patterns.filter((line) => line.trim() !== '' && !line.startsWith('#')));
}
