/**
 * Defect 9 of the hardening issue: a source file the user may not read is named, with the reason,
 * and the rest of the project is synced. Root reads everything, so the client runs as `nobody`.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN_SCRIPT, GRACE_MS, listProcessesWithHome, waitFor } from '../helpers/cli-harness.js';
import { writeProjectFile } from './fixtures.js';

const NOBODY = 65534;
const canDropPrivileges = process.getuid?.() === 0;
const homes: string[] = [];

afterEach(async () => {
  for (const home of homes.splice(0)) {
    await waitFor(async () => (await listProcessesWithHome(home)).length === 0, 10_000, {
      describe: async () => `left running: ${JSON.stringify(await listProcessesWithHome(home))}`,
    }).finally(async () => {
      for (const { pid } of await listProcessesWithHome(home)) process.kill(pid, 'SIGKILL');
      await rm(home, { recursive: true, force: true });
    });
  }
});

function runAsNobody(args: string[], cwd: string, home: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    'setpriv',
    ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, BIN_SCRIPT, ...args],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, SICKSYNC_DAEMON_GRACE_MS: String(GRACE_MS), FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe.skipIf(!canDropPrivileges)('defect 9: a source file that cannot be read', () => {
  it('is named with the reason, exit 1, and everything else is synced', async () => {
    const home = await realpath(await mkdtemp(path.join(tmpdir(), 'ss-nobody-')));
    homes.push(home);
    const root = path.join(home, 'project');
    const dest = path.join(home, 'dest');
    await writeProjectFile(root, { destinations: [dest] });
    await writeFile(path.join(root, 'readable.txt'), 'fine\n');
    await writeFile(path.join(root, 'secret.txt'), 'not for you\n');
    for (const owned of [home, root, path.join(root, '.sicksync-config.json'), path.join(root, 'readable.txt')]) {
      await chown(owned, NOBODY, NOBODY);
    }
    await chmod(path.join(root, 'secret.txt'), 0o000); // root's, unreadable to nobody
    await mkdir(path.join(root, 'locked'));
    await writeFile(path.join(root, 'locked', 'inside.txt'), 'hidden\n');
    await chmod(path.join(root, 'locked'), 0o755);
    // A first run while the folder is readable puts its file at the destination.
    expect((await runAsNobody(['--once'], root, home)).code).toBe(1); // secret.txt already fails
    expect(await readFile(path.join(dest, 'locked', 'inside.txt'), 'utf8')).toBe('hidden\n');
    await chmod(path.join(root, 'locked'), 0o700); // root's: nobody cannot list it now

    const result = await runAsNobody(['--once'], root, home);

    expect(result.code, result.output).toBe(1);
    expect(result.output).toMatch(/secret\.txt.*permission denied/);
    expect(result.output).toMatch(/^error: cannot read folder "locked" here: permission denied; nothing in it is synced/m);
    // What it holds is unknown, not gone: the destination's copy stays.
    expect(await readFile(path.join(dest, 'locked', 'inside.txt'), 'utf8')).toBe('hidden\n');
    expect(await readFile(path.join(dest, 'readable.txt'), 'utf8')).toBe('fine\n');
  });
});
