import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAdd } from '../../../src/client/commands/add.js';
import { runInit } from '../../../src/client/commands/init.js';
import { runList } from '../../../src/client/commands/list.js';
import { runRemove } from '../../../src/client/commands/remove.js';
import { readGlobalConfig } from '../../../src/client/config/global-file.js';
import { loadProject, loadProjectByAlias } from '../../../src/client/config/load-project.js';
import { ConfigError, ErrorCode, SicksyncError } from '../../../src/shared/errors.js';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A home folder holding empty project folders `code/<name>` for each name. */
async function makeHome(...names: string[]): Promise<{ home: string; dirs: string[] }> {
  const home = await realpath(await mkdtemp(path.join(tmpdir(), 'sicksync-commands-')));
  temps.push(home);
  const dirs = names.map((name) => path.join(home, 'code', name));
  await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
  return { home, dirs };
}

async function getError(promise: Promise<unknown>): Promise<SicksyncError> {
  const error = await promise.catch((caught: unknown) => caught);
  if (!(error instanceof SicksyncError)) throw new Error(`expected a SicksyncError, got ${String(error)}`);
  return error;
}

const globalFile = (home: string) => path.join(home, '.sicksync-config.json');

describe('runInit', () => {
  it('writes the project file and registers it under the folder name', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const lines = await runInit({ cwd: web, home, to: ['devbox:~/src/web', '/mnt/efs/web'] });
    const written = JSON.parse(await readFile(path.join(web, '.sicksync-config.json'), 'utf8')) as unknown;
    expect(written).toEqual({
      project: 'web',
      destinations: ['devbox:~/src/web', '/mnt/efs/web'],
      mode: 'push',
      excludes: ['.git/', 'node_modules/'],
    });
    expect((await readGlobalConfig(home)).projects).toEqual([{ alias: 'web', path: web, active: true }]);
    expect(lines.join('\n')).toContain(`wrote ${path.join(web, '.sicksync-config.json')}`);
    expect(lines.join('\n')).toContain('"sicksync web"');
  });

  it('uses the alias given', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const lines = await runInit({ cwd: web, home, alias: 'site', to: ['devbox:~/web'] });
    expect((await readGlobalConfig(home)).projects.map((project) => project.alias)).toEqual(['site']);
    expect(lines.join('\n')).toContain('"sicksync site"');
  });

  it.each(['.sicksync-config.json', '.sicksyncrc.yml', 'sicksync.config.mjs'])(
    'refuses when %s already exists in the folder',
    async (name) => {
      const {
        home,
        dirs: [web = ''],
      } = await makeHome('web');
      await writeFile(path.join(web, name), '');
      const error = await getError(runInit({ cwd: web, home, to: ['devbox:~/web'] }));
      expect(error.code).toBe(ErrorCode.USAGE);
      expect(error.message).toContain(path.join(web, name));
      expect(await readdir(web)).toEqual([name]);
    },
  );

  it('refuses an alias used by another path, naming it, and writes nothing', async () => {
    const {
      home,
      dirs: [web = '', api = ''],
    } = await makeHome('web', 'api');
    await runInit({ cwd: web, home, to: ['devbox:~/web'] });
    const error = await getError(runInit({ cwd: api, home, alias: 'web', to: ['devbox:~/api'] }));
    expect(error.code).toBe(ErrorCode.USAGE);
    expect(error.message).toContain(`"web" is already used by ${web}`);
    expect(await readdir(api)).toEqual([]);
  });

  it('validates the destinations like a loaded file, and writes nothing when they are wrong', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const error = await getError(runInit({ cwd: web, home, to: ['devbox:src/web', './out'] }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((problem) => problem.field)).toEqual(['destinations[0]', 'destinations[1]']);
    expect(await readdir(web)).toEqual([]);
    expect(await readdir(home)).toEqual(['code']);
  });

  it('refuses to start without destinations', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const error = await getError(runInit({ cwd: web, home, to: [] }));
    expect(error.code).toBe(ErrorCode.USAGE);
    expect(error.message).toContain('at least one destination');
    expect(await readdir(web)).toEqual([]);
  });

  it.each(['list', '-x', 'my web'])('refuses the alias %j', async (alias) => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const error = await getError(runInit({ cwd: web, home, alias, to: ['devbox:~/web'] }));
    expect(error.code).toBe(ErrorCode.USAGE);
    expect(await readdir(web)).toEqual([]);
  });

  it('refuses the home folder, whose .sicksync-config.json is the global file', async () => {
    const { home } = await makeHome();
    const error = await getError(runInit({ cwd: home, home, to: ['devbox:~/web'] }));
    expect(error.code).toBe(ErrorCode.USAGE);
    expect(await readdir(home)).toEqual([]);
  });
});

describe('runAdd', () => {
  async function makeProject(dir: string, project: string): Promise<void> {
    await writeFile(path.join(dir, '.sicksyncrc.json'), JSON.stringify({ project, destinations: ['devbox:~/x'] }));
    await mkdir(path.join(dir, 'src'), { recursive: true });
  }

  it('registers the project found from a path, under the project name', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    await makeProject(web, 'website');
    const lines = await runAdd({ cwd: home, home, path: 'code/web/src' });
    expect((await readGlobalConfig(home)).projects).toEqual([{ alias: 'website', path: web, active: true }]);
    expect(lines[0]).toContain(`registered "website" → ${web}`);
  });

  it('defaults to the cwd, and updates the entry when the same path is added again', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    await makeProject(web, 'web');
    await runAdd({ cwd: web, home });
    const lines = await runAdd({ cwd: path.join(web, 'src'), home, alias: 'w' });
    expect((await readGlobalConfig(home)).projects).toEqual([{ alias: 'w', path: web, active: true }]);
    expect(lines[0]).toContain('updated "w"');
  });

  it('refuses an alias taken by another path', async () => {
    const {
      home,
      dirs: [web = '', api = ''],
    } = await makeHome('web', 'api');
    await makeProject(web, 'web');
    await makeProject(api, 'api');
    await runAdd({ cwd: web, home });
    const error = await getError(runAdd({ cwd: api, home, alias: 'web' }));
    expect(error.code).toBe(ErrorCode.USAGE);
    expect(error.message).toContain(web);
    expect((await readGlobalConfig(home)).projects.map((project) => project.alias)).toEqual(['web']);
  });

  it('refuses a folder without a project file', async () => {
    const {
      home,
      dirs: [web = ''],
    } = await makeHome('web');
    const error = await getError(runAdd({ cwd: web, home }));
    expect(error.code).toBe(ErrorCode.CONFIG_NOT_FOUND);
  });
});

describe('runRemove', () => {
  it('refuses an unknown alias, listing the known ones', async () => {
    const {
      home,
      dirs: [web = '', api = ''],
    } = await makeHome('web', 'api');
    await runInit({ cwd: web, home, to: ['devbox:~/web'] });
    await runInit({ cwd: api, home, to: ['devbox:~/api'] });
    const error = await getError(runRemove({ home, alias: 'nope' }));
    expect(error.code).toBe(ErrorCode.UNKNOWN_ALIAS);
    expect(error.message).toContain('Known aliases: web, api.');
  });
});

describe('runList', () => {
  it('says how to start when nothing is registered', async () => {
    const { home } = await makeHome();
    const lines = await runList({ home });
    expect(lines).toEqual([expect.stringMatching(/^no projects registered in .*sicksync init --to DEST/)]);
  });

  it('shows alias, path, state and a missing project file', async () => {
    const {
      home,
      dirs: [web = '', api = ''],
    } = await makeHome('web', 'api');
    const projects = [
      { alias: 'web', path: web, active: true },
      { alias: 'api-server', path: api, active: false },
    ];
    await writeFile(globalFile(home), JSON.stringify({ projects }));
    await writeFile(path.join(web, '.sicksync-config.json'), '{}');
    expect(await runList({ home })).toEqual([`web         ${web}  active`, `api-server  ${api}  inactive (missing project file)`]);
  });
});

describe('init, add, list, remove: round trip', () => {
  it('keeps the global file and the projects consistent', async () => {
    const {
      home,
      dirs: [web = '', api = ''],
    } = await makeHome('web', 'api');
    await runInit({ cwd: web, home, to: ['devbox:~/src/web'] });
    await writeFile(path.join(api, 'package.json'), JSON.stringify({ name: 'api', sicksync: { destinations: ['gpu:/srv/api'] } }));
    await runAdd({ cwd: api, home });
    expect(await runList({ home })).toEqual([`web  ${web}  active`, `api  ${api}  active`]);

    expect((await loadProjectByAlias('web', { home })).destinations[0]?.id).toBe('devbox:~/src/web');
    expect((await loadProject({ cwd: api, home })).name).toBe('api');

    await runRemove({ home, alias: 'web' });
    expect(await runList({ home })).toEqual([`api  ${api}  active`]);
    expect((await getError(loadProjectByAlias('web', { home }))).code).toBe(ErrorCode.UNKNOWN_ALIAS);
    // Removing forgets the project; its own file stays.
    expect(await readdir(web)).toEqual(['.sicksync-config.json']);

    await runRemove({ home, alias: 'api' });
    expect(JSON.parse(await readFile(globalFile(home), 'utf8'))).toEqual({ projects: [] });
  });
});
