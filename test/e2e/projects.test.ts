/**
 * Finding projects: walking up from the cwd, by alias from anywhere, every active one with -a; the
 * commands that manage the global file; and clients of several projects sharing one daemon.
 */
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFolders, nonEmptyLines, put, useCliHarness, waitFor, waitForSameTree, type CliProcess } from '../helpers/cli-harness.js';
import { PROJECT_FILE, writeGlobalFile, writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A small project `name` under HOME syncing to HOME/`name`-dest; returns both paths. */
async function makeProject(name: string): Promise<{ root: string; dest: string }> {
  const root = harness.path(name);
  const dest = harness.path(`${name}-dest`);
  await writeProjectFile(root, { project: name, destinations: [dest] });
  await put(path.join(root, 'index.txt'), `${name}\n`);
  await put(path.join(root, 'lib/code.txt'), `code of ${name}\n`, 0o755);
  return { root, dest };
}

describe('project discovery', () => {
  it('finds the project file at the top when run from a deep subfolder', async () => {
    const { root, dest } = await makeProject('web');
    const deep = path.join(root, 'a/b/c/d');
    await mkdir(deep, { recursive: true });
    await put(path.join(root, 'a/b/file.txt'), 'in between\n');

    const result = await harness.runCli(['--once'], { cwd: deep });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(nonEmptyLines(result.stdout)[0]).toBe(`web: ${root} → ${dest}`);
    expect(await diffFolders(dest, root)).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  it('runs a registered project by its alias from an unrelated folder, inside or outside HOME', async () => {
    const { root, dest } = await makeProject('web');
    await writeGlobalFile(harness, [{ alias: 'site', path: root }]);
    const elsewhere = harness.path('elsewhere');
    await mkdir(elsewhere);

    const inside = await harness.runCli(['site', '--once'], { cwd: elsewhere });
    expect(inside.code, inside.stdout + inside.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);

    await writeFile(path.join(root, 'index.txt'), 'changed\n');
    const outside = await harness.runCli(['site', '--once'], { cwd: '/' });
    expect(outside.code, outside.stdout + outside.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);
    await harness.expectNoProcessesLeft();
  });
});

describe('sicksync -a', () => {
  it('--once syncs every active project, each output line prefixed with its alias', async () => {
    const web = await makeProject('web');
    const api = await makeProject('api');
    const off = await makeProject('off');
    await writeGlobalFile(harness, [
      { alias: 'web', path: web.root },
      { alias: 'api', path: api.root },
      { alias: 'off', path: off.root, active: false },
    ]);

    const result = await harness.runCli(['--once', '-a'], { cwd: harness.path('web/lib') });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const lines = [...nonEmptyLines(result.stdout), ...nonEmptyLines(result.stderr)];
    expect(
      lines.filter((line) => !/^\[(web|api)\] /.test(line)),
      'lines without a project prefix',
    ).toEqual([]);
    expect(result.stdout).toMatch(/^\[web\] all destinations up to date$/m);
    expect(result.stdout).toMatch(/^\[api\] all destinations up to date$/m);
    expect(result.stdout).toContain(`[web] web: ${web.root} → ${web.dest}`);
    expect(await diffFolders(web.dest, web.root)).toEqual([]);
    expect(await diffFolders(api.dest, api.root)).toEqual([]);
    await expect(lstat(off.dest), 'an inactive project is left alone').rejects.toThrow(/ENOENT/);
    await harness.expectNoProcessesLeft();
  });

  it('live: follows every project, and Ctrl-C to the parent stops them all', async () => {
    const web = await makeProject('web');
    const api = await makeProject('api');
    await writeGlobalFile(harness, [
      { alias: 'web', path: web.root },
      { alias: 'api', path: api.root },
    ]);

    const cli = harness.startCli(['-a']);
    await cli.waitForLine(/^\[web\] watching for changes/);
    await cli.waitForLine(/^\[api\] watching for changes/);
    await put(path.join(web.root, 'new-in-web.txt'), 'web\n');
    await put(path.join(api.root, 'lib/new-in-api.txt'), 'api\n');
    await waitForSameTree(web.dest, web.root);
    await waitForSameTree(api.dest, api.root);
    // The parent, a child per project, and one daemon for both (once a daemon that lost the race to
    // listen, if any, has gone).
    let processes = await harness.listProcesses();
    await waitFor(
      async () => {
        processes = await harness.listProcesses();
        return processes.length === 4;
      },
      5000,
      { describe: () => JSON.stringify(processes) },
    );
    expect(processes.filter((info) => /\bremote daemon\b/.test(info.cmdline))).toHaveLength(1);

    const result = await cli.stop();
    expect(result.code, cli.output).toBe(0);
    expect(
      cli.lines.filter((line) => line.trim() !== '' && !/^\[(web|api)\] /.test(line)),
      'lines without a prefix',
    ).toEqual([]);
    await harness.expectNoProcessesLeft();
  });
});

describe('init, add, list, remove', () => {
  it('manages the global file through the command line', async () => {
    const root = harness.path('newproj');
    const dest = harness.path('newproj-dest');
    await mkdir(root);
    await put(path.join(root, 'hello.txt'), 'hello\n');

    const init = await harness.runCli(['init', '--to', dest, '--alias', 'np'], { cwd: root });
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`wrote ${path.join(root, PROJECT_FILE)}`);
    expect(init.stdout).toContain(`registered "np" → ${root}`);
    expect(JSON.parse(await readFile(path.join(root, PROJECT_FILE), 'utf8'))).toEqual({
      project: 'newproj',
      destinations: [dest],
      mode: 'push',
      excludes: ['.git/', 'node_modules/'],
    });
    const again = await harness.runCli(['init', '--to', dest], { cwd: root });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);

    // The new project syncs by its alias from anywhere.
    const sync = await harness.runCli(['np', '--once'], { cwd: harness.home });
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);

    const other = await makeProject('other');
    const add = await harness.runCli(['add', other.root, '--alias', 'ot']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`registered "ot" → ${other.root}`);

    const list = await harness.runCli(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(nonEmptyLines(list.stdout)).toEqual([
      expect.stringMatching(new RegExp(`^np\\s+${escape(root)}\\s+active$`)),
      expect.stringMatching(new RegExp(`^ot\\s+${escape(other.root)}\\s+active$`)),
    ]);

    const remove = await harness.runCli(['remove', 'np']);
    expect(remove.code, remove.stderr).toBe(0);
    expect(remove.stdout).toMatch(/removed "np"/);
    const after = await harness.runCli(['list']);
    expect(nonEmptyLines(after.stdout)).toEqual([expect.stringMatching(/^ot\s/)]);
    // Removing forgets the alias only: the project's own file stays.
    expect(await readFile(path.join(root, PROJECT_FILE), 'utf8')).toContain(dest);

    const twice = await harness.runCli(['remove', 'np']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/unknown project alias "np"/);
    expect(twice.stderr).toMatch(/Known aliases: ot\b/);
  });
});

describe('one daemon per user', () => {
  async function startTogether(roots: string[]): Promise<CliProcess[]> {
    const clis = roots.map((root) => harness.startCli([], { cwd: root }));
    await Promise.all(clis.map((cli) => cli.waitForLine(/^watching for changes/)));
    return clis;
  }

  async function expectOneDaemonServing(roots: string[]): Promise<void> {
    // A daemon that lost the race to listen exits by itself, possibly a little after the clients
    // are served; it must never be one that listens.
    let daemons = await harness.listDaemons();
    await waitFor(
      async () => {
        daemons = await harness.listDaemons();
        return daemons.length === 1;
      },
      5000,
      { describe: () => JSON.stringify(daemons) },
    );
    const pid = Number((await readFile(harness.path('.sicksync/daemon.pid'), 'utf8')).trim());
    expect(daemons[0]!.pid).toBe(pid);
    const log = await harness.readDaemonLog();
    for (const root of roots) expect(log).toMatch(new RegExp(`\\[${pid}\\] client .* opened ${escape(root)}$`, 'm'));
    expect(log.match(/listening on/g), log).toHaveLength(1);
  }

  it('two projects started at the same moment share one daemon', async () => {
    const web = await makeProject('web');
    const api = await makeProject('api');
    const clis = await startTogether([web.root, api.root]);
    await expectOneDaemonServing([web.dest, api.dest]);

    await put(path.join(web.root, 'later.txt'), 'later\n');
    await put(path.join(api.root, 'later.txt'), 'later\n');
    await waitForSameTree(web.dest, web.root);
    await waitForSameTree(api.dest, api.root);
    for (const cli of clis) expect((await cli.stop()).code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });

  it('the same project started twice at the same moment shares one daemon', async () => {
    const web = await makeProject('web');
    const clis = await startTogether([web.root, web.root]);
    await expectOneDaemonServing([web.dest]);

    await put(path.join(web.root, 'later.txt'), 'later\n');
    await waitForSameTree(web.dest, web.root);
    for (const cli of clis) expect((await cli.stop()).code, cli.output).toBe(0);
    await harness.expectNoProcessesLeft();
  });
});
