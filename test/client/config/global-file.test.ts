import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getGlobalConfigPath, readGlobalConfig, writeGlobalConfig } from '../../../src/client/config/global-file.js';
import { ConfigError } from '../../../src/shared/errors.js';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function makeHome(): Promise<string> {
  const home = await realpath(await mkdtemp(path.join(tmpdir(), 'sicksync-global-')));
  temps.push(home);
  return home;
}

async function getConfigError(home: string): Promise<ConfigError> {
  const error = await readGlobalConfig(home).catch((caught: unknown) => caught);
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

describe('readGlobalConfig', () => {
  it('is an empty configuration when the file is missing or blank', async () => {
    const home = await makeHome();
    const empty = { path: path.join(home, '.sicksync-config.json'), projects: [], defaults: {} };
    expect(await readGlobalConfig(home)).toEqual(empty);
    await writeFile(getGlobalConfigPath(home), '\n');
    expect(await readGlobalConfig(home)).toEqual(empty);
  });

  it('reads projects, with active true unless said otherwise, and defaults', async () => {
    const home = await makeHome();
    const file = {
      projects: [
        { alias: 'web', path: '/home/me/web' },
        { alias: 'api', path: '/home/me/api', active: false },
      ],
      defaults: { excludes: ['.DS_Store'], mode: 'bidirectional' },
    };
    await writeFile(getGlobalConfigPath(home), JSON.stringify(file));
    expect(await readGlobalConfig(home)).toEqual({
      path: getGlobalConfigPath(home),
      projects: [
        { alias: 'web', path: '/home/me/web', active: true },
        { alias: 'api', path: '/home/me/api', active: false },
      ],
      defaults: { excludes: ['.DS_Store'], mode: 'bidirectional' },
    });
  });

  it('lists every problem of an invalid file, with the file and dot-paths', async () => {
    const home = await makeHome();
    await writeFile(
      getGlobalConfigPath(home),
      JSON.stringify({
        projects: [{ alias: 'web', path: 'web', activ: true }, { path: '/api' }],
        defaults: { deleteGuard: 3 },
        colour: 'always',
      }),
    );
    const error = await getConfigError(home);
    expect(error.exitCode).toBe(2);
    expect(error.problems.map((problem) => [problem.file, problem.field, problem.message])).toEqual([
      [getGlobalConfigPath(home), 'projects[0].path', 'expected an absolute path'],
      [getGlobalConfigPath(home), 'projects[0].activ', 'unknown field'],
      [getGlobalConfigPath(home), 'projects[1].alias', 'required'],
      [getGlobalConfigPath(home), 'defaults.deleteGuard', 'expected at most 1'],
      [getGlobalConfigPath(home), 'colour', 'unknown field'],
    ]);
    expect(error.message).toContain(`${getGlobalConfigPath(home)}: projects[0].path: expected an absolute path`);
  });

  it('refuses the same alias or the same path twice', async () => {
    const home = await makeHome();
    const projects = [
      { alias: 'web', path: '/srv/web' },
      { alias: 'web', path: '/srv/web2' },
      { alias: 'www', path: '/srv/web/' },
    ];
    await writeFile(getGlobalConfigPath(home), JSON.stringify({ projects }));
    const error = await getConfigError(home);
    expect(error.problems.map((problem) => `${problem.field}: ${problem.message}`)).toEqual([
      'projects[1].alias: "web" is already used by projects[0]',
      'projects[2].path: same path as projects[0]',
    ]);
  });

  it('refuses a file that is not JSON, naming it', async () => {
    const home = await makeHome();
    await writeFile(getGlobalConfigPath(home), '{ projects: [] }');
    const error = await getConfigError(home);
    expect(error.problems).toEqual([
      { file: getGlobalConfigPath(home), field: '', message: expect.stringMatching(/^is not valid JSON: /) as string },
    ]);
  });
});

describe('writeGlobalConfig', () => {
  it('round-trips as 2-space JSON and leaves no temporary file behind', async () => {
    const home = await makeHome();
    const config = {
      path: getGlobalConfigPath(home),
      projects: [{ alias: 'web', path: '/home/me/web', active: false }],
      defaults: { excludes: ['.DS_Store'] },
    };
    await writeGlobalConfig(config);
    expect(await readGlobalConfig(home)).toEqual(config);
    const text = await readFile(config.path, 'utf8');
    expect(text).toBe(`${JSON.stringify({ projects: config.projects, defaults: config.defaults }, null, 2)}\n`);
    expect(await readdir(home)).toEqual(['.sicksync-config.json']);
  });

  it('leaves out empty defaults and replaces the previous content', async () => {
    const home = await makeHome();
    const config = { path: getGlobalConfigPath(home), projects: [{ alias: 'a', path: '/a', active: true }], defaults: {} };
    await writeGlobalConfig(config);
    await writeGlobalConfig({ ...config, projects: [] });
    expect(JSON.parse(await readFile(config.path, 'utf8'))).toEqual({ projects: [] });
  });

  it('keeps the mode of an existing file', async () => {
    const home = await makeHome();
    await writeFile(getGlobalConfigPath(home), '{}', { mode: 0o600 });
    await writeGlobalConfig({ path: getGlobalConfigPath(home), projects: [], defaults: {} });
    expect((await stat(getGlobalConfigPath(home))).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlinked global file instead of replacing the link', async () => {
    const home = await makeHome();
    const dotfiles = path.join(home, 'dotfiles');
    await mkdir(dotfiles);
    await writeFile(path.join(dotfiles, 'sicksync.json'), '{}');
    await symlink(path.join(dotfiles, 'sicksync.json'), getGlobalConfigPath(home));
    const projects = [{ alias: 'web', path: '/srv/web', active: true }];
    await writeGlobalConfig({ path: getGlobalConfigPath(home), projects, defaults: {} });
    expect(JSON.parse(await readFile(path.join(dotfiles, 'sicksync.json'), 'utf8'))).toEqual({ projects });
    expect((await readGlobalConfig(home)).projects).toEqual(projects);
  });
});
