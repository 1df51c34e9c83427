/**
 * Fixture projects for the end-to-end tests: real folders under the test's HOME.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, symlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import { put, writeJson, type CliHarness, type TreeEntry } from '../helpers/cli-harness.js';

export const PROJECT_FILE = '.sicksync-config.json';

/** Writes `config` as the project file of `root` (creating the folder). */
export async function writeProjectFile(root: string, config: Record<string, unknown>): Promise<void> {
  await mkdir(root, { recursive: true });
  await writeJson(path.join(root, PROJECT_FILE), config);
}

/** Writes the global file ~/.sicksync-config.json. */
export async function writeGlobalFile(harness: CliHarness, projects: { alias: string; path: string; active?: boolean }[]): Promise<void> {
  await writeJson(harness.path(PROJECT_FILE), { projects: projects.map((p) => ({ active: true, ...p })) });
}

/** Seconds since the epoch with a fractional part, so nanosecond mtimes are exercised. */
const OLD = 1_000_000_000.123456;

/**
 * Excluded by the rich project below: `*.log` and `node_modules/` from `excludes`, `build/` and
 * `/secret.env` (anchored: only at the root) from its excludesFile.
 */
export function isExcludedByRichProject(relative: string): boolean {
  const parts = relative.split('/');
  return relative.endsWith('.log') || parts.includes('node_modules') || parts.includes('build') || relative === 'secret.env';
}

export const excludeRich = (relative: string, _kind: TreeEntry['kind']): boolean => isExcludedByRichProject(relative);

/**
 * A project with every kind of thing the contract promises to keep: text and binary content,
 * executable and private modes, old nanosecond mtimes, empty folders (nested too), in-root symlinks
 * (relative, into a folder above), and things that must stay behind.
 */
export async function makeRichProject(root: string, destinations: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await writeProjectFile(root, {
    project: 'rich',
    destinations,
    excludes: ['*.log', 'node_modules/'],
    excludesFile: ['.syncignore'],
    ...extra,
  });
  await put(path.join(root, '.syncignore'), '# build output\nbuild/\n/secret.env\n');
  await put(path.join(root, 'README.md'), '# rich\n\nA project.\n');
  await put(path.join(root, 'bin/run.sh'), '#!/bin/sh\necho run\n', 0o755);
  await put(path.join(root, 'bin/private-tool'), '#!/bin/sh\necho private\n', 0o700);
  await put(path.join(root, 'src/index.ts'), 'export const answer = 42;\n');
  await put(path.join(root, 'src/lib/util.ts'), 'export function twice(n: number) { return 2 * n; }\n');
  await put(path.join(root, 'src/secret.env'), 'NOT_EXCLUDED=the pattern is anchored at the root\n');
  await put(path.join(root, 'src/read-only.txt'), 'read only\n', 0o444);
  await put(path.join(root, 'data/blob.bin'), randomBytes(300 * 1024));
  await put(path.join(root, 'data/zero-length'), '');
  await mkdir(path.join(root, 'empty'));
  await mkdir(path.join(root, 'nested/empty/deeper'), { recursive: true });
  await mkdir(path.join(root, 'private'), { mode: 0o700 });
  await put(path.join(root, 'private/key'), 'k\n', 0o600);
  await symlink('README.md', path.join(root, 'link-to-readme'));
  await symlink('../index.ts', path.join(root, 'src/lib/up-link'));
  await symlink('nested/empty', path.join(root, 'link-to-folder'));
  // Must never leave the project.
  await put(path.join(root, 'app.log'), 'log\n');
  await put(path.join(root, 'src/debug.log'), 'debug\n');
  await put(path.join(root, 'node_modules/pkg/index.js'), 'module.exports = 1;\n');
  await put(path.join(root, 'src/node_modules/inner/x.js'), 'x\n');
  await put(path.join(root, 'build/out.js'), 'built\n');
  await put(path.join(root, 'secret.env'), 'TOKEN=do-not-sync\n');
  // Old times with a fractional part; folders last, since creating their content moved theirs.
  await utimes(path.join(root, 'README.md'), OLD, OLD);
  await utimes(path.join(root, 'data/blob.bin'), OLD + 1, OLD + 1);
  await utimes(path.join(root, 'bin/run.sh'), OLD + 2, OLD + 2);
  await utimes(path.join(root, 'nested/empty/deeper'), OLD + 3, OLD + 3);
  await utimes(path.join(root, 'empty'), OLD + 4, OLD + 4);
  await utimes(path.join(root, 'bin'), OLD + 5, OLD + 5);
}

/** `count` small files `file-NN.txt` in `root`, plus the project file. */
export async function makeFlatProject(
  root: string,
  destinations: string[],
  count: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeProjectFile(root, { destinations, ...extra });
  for (let i = 0; i < count; i += 1) await put(path.join(root, `file-${String(i).padStart(2, '0')}.txt`), `content of file ${i}\n`);
}
