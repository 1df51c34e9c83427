/**
 * Bad configuration and bad usage: exit 2, every problem named with where it is, no stack trace,
 * and nothing synced, written or started.
 */
import { lstat, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { put, useCliHarness, type CliResult } from '../helpers/cli-harness.js';
import { PROJECT_FILE, writeGlobalFile, writeProjectFile } from './fixtures.js';

const harness = useCliHarness();
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Exit 2 with a message and its code, no stack trace, and nothing left running or started. */
async function expectRefused(result: CliResult, code: string): Promise<void> {
  expect(result.code, result.stdout + result.stderr).toBe(2);
  expect(result.stderr).toContain(`(${code})`);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(await harness.listProcesses()).toEqual([]);
  // No daemon was started: it would have made its state folder and log.
  await expect(lstat(harness.path('.sicksync')), 'the daemon state folder').rejects.toThrow(/ENOENT/);
}

describe('invalid project file', () => {
  it('lists every problem with the file and the dot-path of each field, and syncs nothing', async () => {
    const root = harness.path('bad');
    const ok = harness.path('ok-dest');
    await writeProjectFile(root, {
      project: 'bad',
      destinations: [{ hostname: 'devbox', port: '22', destinationLocation: '/srv/bad' }, ok, { destinationLocation: ok, colour: 1 }],
      mode: 'sideways',
      colour: 'blue',
      deleteGuard: 2,
      excludes: 'node_modules/',
    });
    await put(path.join(root, 'file.txt'), 'must not be synced\n');
    const file = path.join(root, PROJECT_FILE);

    for (const args of [['--once'], []]) {
      const result = await harness.runCli(args, { cwd: root });
      await expectRefused(result, 'SICKSYNC_E_CONFIG_INVALID');
      for (const field of ['destinations[0].port', 'mode', 'colour', 'deleteGuard', 'excludes', 'destinations[2].colour']) {
        expect(result.stderr, field).toMatch(new RegExp(`^\\s*${escape(file)}: ${escape(field)}: \\S`, 'm'));
      }
      expect(result.stdout).toBe('');
      await expect(lstat(ok), 'a valid destination of an invalid file').rejects.toThrow(/ENOENT/);
    }
  });

  it('names the file and the reason when it is not even valid JSON', async () => {
    const root = harness.path('broken');
    await put(path.join(root, PROJECT_FILE), '{ "destinations": [ "/tmp/x", }\n');
    const result = await harness.runCli(['--once'], { cwd: root });
    await expectRefused(result, 'SICKSYNC_E_CONFIG_INVALID');
    expect(result.stderr).toContain(path.join(root, PROJECT_FILE));
  });

  it('names the global file and its fields when that one is invalid', async () => {
    const root = harness.path('web');
    await writeProjectFile(root, { destinations: [harness.path('web-dest')] });
    await put(harness.path(PROJECT_FILE), JSON.stringify({ projects: [{ alias: 'web', path: 'relative/path', active: 'yes' }] }));
    const result = await harness.runCli(['--once'], { cwd: root });
    await expectRefused(result, 'SICKSYNC_E_CONFIG_INVALID');
    const globalFile = harness.path(PROJECT_FILE);
    expect(result.stderr).toMatch(new RegExp(`${escape(globalFile)}: projects\\[0\\]\\.path: `));
    expect(result.stderr).toMatch(new RegExp(`${escape(globalFile)}: projects\\[0\\]\\.active: `));
  });
});

describe('no project, unknown alias, bad usage', () => {
  it('no project file above the cwd: names the folders searched', async () => {
    const cwd = harness.path('nowhere/deeper');
    await mkdir(cwd, { recursive: true });
    const result = await harness.runCli(['--once'], { cwd });
    await expectRefused(result, 'SICKSYNC_E_CONFIG_NOT_FOUND');
    expect(result.stderr).toContain(`searched ${cwd} and every folder above it up to ${harness.path('nowhere')}`);
    expect(result.stderr).toMatch(/sicksync init/);
  });

  it('the home folder itself is no project, whatever its .sicksync-config.json says', async () => {
    await writeGlobalFile(harness, []);
    const result = await harness.runCli(['--once'], { cwd: harness.home });
    await expectRefused(result, 'SICKSYNC_E_CONFIG_NOT_FOUND');
    expect(result.stderr).toContain(harness.home);
  });

  it('an unknown alias lists the known ones', async () => {
    await writeProjectFile(harness.path('web'), { destinations: [harness.path('web-dest')] });
    await writeProjectFile(harness.path('api'), { destinations: [harness.path('api-dest')] });
    await writeGlobalFile(harness, [
      { alias: 'web', path: harness.path('web') },
      { alias: 'api', path: harness.path('api') },
    ]);
    const result = await harness.runCli(['nope', '--once']);
    await expectRefused(result, 'SICKSYNC_E_UNKNOWN_ALIAS');
    expect(result.stderr).toMatch(/unknown project alias "nope"/);
    expect(result.stderr).toMatch(/Known aliases: web, api\./);
  });

  it.each([
    ['an unknown flag', ['--once', '--bogus'], /bogus/],
    ['an alias and --all together', ['web', '--all', '--once'], /either an alias or --all/],
    ['a stray argument', ['web', 'extra', '--once'], /extra/],
    ['a flag without its value', ['init', '--to'], /to/],
  ])('%s is a usage error', async (_name, args, message) => {
    await writeProjectFile(harness.path('web'), { destinations: [harness.path('web-dest')] });
    await writeGlobalFile(harness, [{ alias: 'web', path: harness.path('web') }]);
    const result = await harness.runCli(args, { cwd: harness.path('web') });
    await expectRefused(result, 'SICKSYNC_E_USAGE');
    expect(result.stderr).toMatch(message);
    await expect(lstat(harness.path('web-dest'))).rejects.toThrow(/ENOENT/);
  });

  it('-a with no active project says how to register one', async () => {
    await writeGlobalFile(harness, [{ alias: 'web', path: harness.path('web'), active: false }]);
    const result = await harness.runCli(['-a', '--once']);
    await expectRefused(result, 'SICKSYNC_E_CONFIG_NOT_FOUND');
    expect(result.stderr).toMatch(/sicksync add/);
  });
});
