import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProject, loadProjectByAlias, PROJECT_DEFAULTS } from '../../../src/client/config/load-project.js';
import { ConfigError, ErrorCode, SicksyncError } from '../../../src/shared/errors.js';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A home folder with a project `web` in it; `project` is written as its .sicksync-config.json. */
async function makeProject(project: unknown, global?: unknown): Promise<{ home: string; root: string; file: string }> {
  const home = await realpath(await mkdtemp(path.join(tmpdir(), 'sicksync-load-')));
  temps.push(home);
  const root = path.join(home, 'code', 'web');
  await mkdir(root, { recursive: true });
  const file = path.join(root, '.sicksync-config.json');
  await writeFile(file, JSON.stringify(project));
  if (global !== undefined) await writeFile(path.join(home, '.sicksync-config.json'), JSON.stringify(global));
  return { home, root, file };
}

async function getError<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const error = await promise.catch((caught: unknown) => caught);
  if (!(error instanceof type)) throw new Error(`expected a ${type.name}, got ${String(error)}`);
  return error;
}

describe('loadProject: precedence', () => {
  it('uses the built-in defaults when no layer says otherwise', async () => {
    const { home, root, file } = await makeProject({ destinations: ['devbox:~/src/web'] });
    const project = await loadProject({ cwd: root, home });
    expect(project).toEqual({
      name: 'web',
      root,
      configPath: file,
      destinations: [{ id: 'devbox:~/src/web', host: { hostname: 'devbox' }, location: '~/src/web', mode: 'push' }],
      ...PROJECT_DEFAULTS,
    });
    expect(PROJECT_DEFAULTS).toEqual({
      mode: 'push',
      excludes: [],
      excludesFile: [],
      rules: [],
      conflictPolicy: 'keep-both',
      deleteGuard: 0.3,
      history: { versions: 10, days: 30 },
    });
  });

  const globalDefaults = {
    mode: 'pull',
    excludes: ['.DS_Store'],
    excludesFile: ['.gitignore'],
    rules: [{ pattern: 'logs/**', mode: 'pull' }],
    conflictPolicy: 'newest',
    deleteGuard: 0.5,
  };

  it('lets the global defaults win over the built-in defaults', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web'] }, { defaults: globalDefaults });
    const project = await loadProject({ cwd: root, home });
    expect(project).toMatchObject(globalDefaults);
    expect(project.destinations[0]?.mode).toBe('pull');
  });

  it('lets the project file win over the global defaults, and appends its excludes', async () => {
    const file = {
      destinations: ['devbox:~/web'],
      mode: 'bidirectional',
      excludes: ['*.log'],
      excludesFile: ['.sicksyncignore'],
      rules: [{ pattern: 'results/**', mode: 'pull' }],
      conflictPolicy: 'manual',
      deleteGuard: 0.2,
    };
    const { home, root } = await makeProject(file, { defaults: globalDefaults });
    const project = await loadProject({ cwd: root, home });
    expect(project).toMatchObject({ ...file, excludes: ['.DS_Store', '*.log'], destinations: [expect.anything()] });
    expect(project.destinations[0]?.mode).toBe('bidirectional');
  });

  it('lets the flags win over every file, and appends their excludes last', async () => {
    const file = { destinations: ['devbox:~/web'], mode: 'bidirectional', excludes: ['*.log'], deleteGuard: 0.2 };
    const { home, root } = await makeProject(file, { defaults: globalDefaults });
    const overrides = { mode: 'push' as const, excludes: ['tmp/'], deleteGuard: 0.9, destinations: ['/mnt/mirror/web'] };
    const project = await loadProject({ cwd: root, home, overrides });
    expect(project).toMatchObject({ mode: 'push', excludes: ['.DS_Store', '*.log', 'tmp/'], deleteGuard: 0.9 });
    expect(project.destinations).toEqual([{ id: '/mnt/mirror/web', location: '/mnt/mirror/web', mode: 'push' }]);
  });

  it("keeps a destination's own mode over the merged one", async () => {
    const destinations = ['devbox:~/web', { hostname: 'gpu-1', destinationLocation: '/data/web', mode: 'pull' }];
    const { home, root } = await makeProject({ destinations, mode: 'bidirectional' });
    const project = await loadProject({ cwd: root, home });
    expect(project.destinations.map((destination) => destination.mode)).toEqual(['bidirectional', 'pull']);
  });

  it('names the project after its file, else after its root folder', async () => {
    const { home, root } = await makeProject({ project: 'website', destinations: ['devbox:~/web'] });
    expect((await loadProject({ cwd: root, home })).name).toBe('website');
    await writeFile(path.join(root, '.sicksync-config.json'), JSON.stringify({ destinations: ['devbox:~/web'] }));
    expect((await loadProject({ cwd: root, home })).name).toBe('web');
  });
});

describe('loadProject: validation', () => {
  it('lists every problem at once, with the file and the dot-path', async () => {
    const { home, root, file } = await makeProject({
      destinations: ['devbox:src/web', { hostname: 'gpu-1', port: 22.5, destinationLocation: '/data' }, './build'],
      mode: 'mirror',
    });
    const error = await getError(loadProject({ cwd: root, home, overrides: { deleteGuard: 2 } }), ConfigError);
    expect(error.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(error.exitCode).toBe(2);
    expect(error.problems.map((problem) => [problem.file, problem.field, problem.message])).toEqual([
      [file, 'destinations[1].port', 'expected an integer'],
      [file, 'mode', 'expected one of push, pull, bidirectional'],
      [file, 'destinations[0]', expect.stringMatching(/must be absolute or start with ~/)],
      [file, 'destinations[2]', expect.stringMatching(/inside the project folder/)],
      ['command line', 'deleteGuard', 'expected at most 1'],
    ]);
    expect(error.message).toContain(`${file}: destinations[1].port: expected an integer`);
  });

  it.each([[{}], [{ destinations: [] }]])('refuses a project without destinations: %j', async (raw) => {
    const { home, root, file } = await makeProject(raw);
    const error = await getError(loadProject({ cwd: root, home }), ConfigError);
    expect(error.problems).toEqual([{ file, field: 'destinations', message: expect.stringMatching(/^required/) as string }]);
  });

  it('refuses the same destination written twice', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web/', { hostname: 'devbox', destinationLocation: '~/web' }] });
    const error = await getError(loadProject({ cwd: root, home }), ConfigError);
    expect(error.problems.map((problem) => `${problem.field}: ${problem.message}`)).toEqual([
      'destinations[1]: same destination as destinations[0] (devbox:~/web)',
    ]);
  });

  it('refuses an invalid global file too', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web'] }, { defaults: { mode: 'sideways' } });
    const error = await getError(loadProject({ cwd: root, home }), ConfigError);
    expect(error.problems[0]).toMatchObject({ file: path.join(home, '.sicksync-config.json'), field: 'defaults.mode' });
  });
});

describe('loadProject: not found', () => {
  it('names the folders searched, the known aliases and how to fix it', async () => {
    const global = {
      projects: [
        { alias: 'web', path: '/srv/web' },
        { alias: 'api', path: '/srv/api' },
      ],
    };
    const { home } = await makeProject({ destinations: ['devbox:~/web'] }, global);
    const cwd = path.join(home, 'notes', 'deep');
    await mkdir(cwd, { recursive: true });
    const error = await getError(loadProject({ cwd, home }), SicksyncError);
    expect(error.code).toBe(ErrorCode.CONFIG_NOT_FOUND);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`searched ${cwd} and every folder above it up to ${path.join(home, 'notes')}`);
    expect(error.message).toContain('Known aliases: web, api.');
    expect(error.message).toContain('sicksync init --to DEST');
    expect(error.message).toContain('sicksync <alias>');
  });

  it('says so when no project is registered, and explains home', async () => {
    const { home } = await makeProject({ destinations: ['devbox:~/web'] });
    const error = await getError(loadProject({ cwd: home, home }), SicksyncError);
    expect(error.code).toBe(ErrorCode.CONFIG_NOT_FOUND);
    expect(error.message).toContain(`${home} is your home folder`);
    expect(error.message).toContain(`No projects are registered in ${path.join(home, '.sicksync-config.json')} yet.`);
  });
});

describe('loadProjectByAlias', () => {
  it('loads the project an alias points to, from anywhere', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web'] });
    await writeFile(path.join(home, '.sicksync-config.json'), JSON.stringify({ projects: [{ alias: 'w', path: root }] }));
    const project = await loadProjectByAlias('w', { home, overrides: { excludes: ['x/'] } });
    expect(project).toMatchObject({ root, name: 'web', excludes: ['x/'] });
  });

  it('refuses an unknown alias, listing the known ones', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web'] });
    await writeFile(
      path.join(home, '.sicksync-config.json'),
      JSON.stringify({
        projects: [
          { alias: 'web', path: root },
          { alias: 'api', path: '/srv/api' },
        ],
      }),
    );
    const error = await getError(loadProjectByAlias('wbe', { home }), SicksyncError);
    expect(error.code).toBe(ErrorCode.UNKNOWN_ALIAS);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('unknown project alias "wbe"');
    expect(error.message).toContain('Known aliases: web, api.');
  });

  it('refuses an alias whose folder no longer holds a project file, naming the folder', async () => {
    const { home, root } = await makeProject({ destinations: ['devbox:~/web'] });
    await writeFile(path.join(home, '.sicksync-config.json'), JSON.stringify({ projects: [{ alias: 'web', path: root }] }));
    await rm(path.join(root, '.sicksync-config.json'));
    const error = await getError(loadProjectByAlias('web', { home }), SicksyncError);
    expect(error.code).toBe(ErrorCode.CONFIG_NOT_FOUND);
    expect(error.message).toContain(`project "web" points to ${root}`);
    expect(error.message).toContain('sicksync remove web');
  });

  it('never takes the global file for the project of an alias pointing at home', async () => {
    const { home } = await makeProject({ destinations: ['devbox:~/web'] });
    await writeFile(path.join(home, '.sicksync-config.json'), JSON.stringify({ projects: [{ alias: 'home', path: home }] }));
    const error = await getError(loadProjectByAlias('home', { home }), SicksyncError);
    expect(error.code).toBe(ErrorCode.CONFIG_NOT_FOUND);
  });
});
