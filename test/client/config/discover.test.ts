import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findProjectFile,
  findProjectFileIn,
  getProjectFileNameIn,
  getSearchTop,
  PROJECT_FILE_NAMES,
} from '../../../src/client/config/discover.js';
import { ConfigError } from '../../../src/shared/errors.js';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh base folder holding `home/` (the user's home) and `outside/`; real path, no symlinks. */
async function makeBase(): Promise<{ base: string; home: string }> {
  const base = await realpath(await mkdtemp(path.join(tmpdir(), 'sicksync-discover-')));
  temps.push(base);
  const home = path.join(base, 'home');
  await mkdir(home);
  return { base, home };
}

async function put(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

const expected = { project: 'web', destinations: ['devbox:~/src/web'] };
const contents: Record<string, string> = {
  '.sicksync-config.json': JSON.stringify(expected),
  '.sicksyncrc': 'project: web\ndestinations:\n  - devbox:~/src/web\n',
  '.sicksyncrc.json': JSON.stringify(expected),
  '.sicksyncrc.yaml': 'project: web\ndestinations: ["devbox:~/src/web"]\n',
  '.sicksyncrc.yml': 'project: web\ndestinations:\n  - "devbox:~/src/web"\n',
  'sicksync.config.js': `module.exports = ${JSON.stringify(expected)};\n`,
  'sicksync.config.cjs': `module.exports = ${JSON.stringify(expected)};\n`,
  'sicksync.config.mjs': `export default ${JSON.stringify(expected)};\n`,
  'package.json': JSON.stringify({ name: 'web', version: '1.0.0', sicksync: expected }),
};

describe('findProjectFile', () => {
  it('covers every accepted name in this test', () => {
    expect(Object.keys(contents).sort()).toEqual([...PROJECT_FILE_NAMES].sort());
  });

  it.each(PROJECT_FILE_NAMES.map((name) => [name]))('finds %s', async (name) => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    await put(path.join(root, name), contents[name] ?? '');
    const found = await findProjectFile(root, home);
    expect(found).toEqual({ configPath: path.join(root, name), root, raw: expected });
    expect(await getProjectFileNameIn(root)).toBe(name);
  });

  it('walks up from a deep subfolder to the nearest project file', async () => {
    const { home } = await makeBase();
    const outer = path.join(home, 'work');
    const root = path.join(outer, 'web');
    await put(path.join(outer, '.sicksyncrc.json'), JSON.stringify({ project: 'outer' }));
    await put(path.join(root, '.sicksync-config.json'), JSON.stringify(expected));
    const deep = path.join(root, 'src', 'components', 'button');
    await mkdir(deep, { recursive: true });
    const found = await findProjectFile(deep, home);
    expect(found?.root).toBe(root);
    expect(found?.configPath).toBe(path.join(root, '.sicksync-config.json'));
  });

  it('prefers .sicksync-config.json over other names in the same folder', async () => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    await put(path.join(root, 'package.json'), JSON.stringify({ sicksync: { project: 'from-package' } }));
    await put(path.join(root, '.sicksyncrc'), 'project: from-rc\n');
    await put(path.join(root, '.sicksync-config.json'), JSON.stringify(expected));
    expect((await findProjectFile(root, home))?.raw).toEqual(expected);
  });

  it('skips a package.json without a "sicksync" key and keeps walking up', async () => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    await put(path.join(root, '.sicksyncrc.yml'), 'project: web\n');
    await put(path.join(root, 'packages', 'ui', 'package.json'), JSON.stringify({ name: 'ui' }));
    const found = await findProjectFile(path.join(root, 'packages', 'ui'), home);
    expect(found?.configPath).toBe(path.join(root, '.sicksyncrc.yml'));
  });

  it('never takes the .sicksync-config.json of home: it is the global file', async () => {
    const { home } = await makeBase();
    await put(path.join(home, '.sicksync-config.json'), JSON.stringify({ projects: [] }));
    await put(path.join(home, '.sicksyncrc'), 'project: home\n');
    const deep = path.join(home, 'work', 'web', 'src');
    await mkdir(deep, { recursive: true });
    expect(await findProjectFile(deep, home)).toBeNull();
    expect(await findProjectFile(home, home)).toBeNull();
  });

  it('does not walk above home into its parent', async () => {
    const { base, home } = await makeBase();
    await put(path.join(base, '.sicksyncrc.json'), JSON.stringify(expected));
    await mkdir(path.join(home, 'web'));
    expect(await findProjectFile(path.join(home, 'web'), home)).toBeNull();
  });

  it('walks to the filesystem root when cwd is outside home', async () => {
    const { base, home } = await makeBase();
    await put(path.join(base, '.sicksyncrc.json'), JSON.stringify(expected));
    const deep = path.join(base, 'outside', 'web', 'src');
    await mkdir(deep, { recursive: true });
    const found = await findProjectFile(deep, home);
    expect(found?.root).toBe(base);
  });

  it("ignores cosmiconfig's own global folder (~/.config/sicksync), even a broken file there", async () => {
    const { base, home } = await makeBase();
    const saved = process.env['XDG_CONFIG_HOME'];
    process.env['XDG_CONFIG_HOME'] = path.join(base, 'xdg');
    try {
      await put(path.join(base, 'xdg', 'sicksync', 'config.json'), JSON.stringify(expected));
      await mkdir(path.join(home, 'web'));
      expect(await findProjectFile(path.join(home, 'web'), home)).toBeNull();
      await put(path.join(base, 'xdg', 'sicksync', 'config.json'), '{ broken');
      expect(await findProjectFile(path.join(home, 'web'), home)).toBeNull();
    } finally {
      if (saved === undefined) delete process.env['XDG_CONFIG_HOME'];
      else process.env['XDG_CONFIG_HOME'] = saved;
    }
  });

  it('takes an empty file as an empty project, to report its problems', async () => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    await put(path.join(root, '.sicksync-config.json'), '');
    expect(await findProjectFile(root, home)).toEqual({ configPath: path.join(root, '.sicksync-config.json'), root, raw: {} });
  });

  it.each([
    ['.sicksync-config.json', '{ "project": "web", }'],
    ['.sicksyncrc.yaml', 'project: [web\n'],
    ['sicksync.config.mjs', 'export default {;\n'],
  ])('refuses a %s that cannot be parsed, naming the file', async (name, content) => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    const file = path.join(root, name);
    await put(file, content);
    const error = await findProjectFile(path.join(root), home).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    // One line that says why, without the parser's code frame.
    expect((error as ConfigError).problems).toEqual([
      { file, field: '', message: expect.stringMatching(/^cannot be read: [^\n]+$/) as string },
    ]);
    expect((error as ConfigError).exitCode).toBe(2);
  });
});

describe('findProjectFileIn', () => {
  it('looks in that folder only', async () => {
    const { home } = await makeBase();
    const root = path.join(home, 'web');
    await put(path.join(root, '.sicksyncrc.json'), JSON.stringify(expected));
    await mkdir(path.join(root, 'sub'));
    expect((await findProjectFileIn(root))?.root).toBe(root);
    expect(await findProjectFileIn(path.join(root, 'sub'))).toBeNull();
  });
});

describe('getSearchTop', () => {
  it.each([
    ['/home/me/work/web/src', '/home/me/work'],
    ['/home/me/work', '/home/me/work'],
    ['/home/me', null],
    ['/home/me/', null],
    ['/srv/web', '/'],
    ['/home/meme/web', '/'],
  ])('from %s stops at %s', (cwd, top) => {
    expect(getSearchTop(cwd, '/home/me')).toBe(top);
  });
});
