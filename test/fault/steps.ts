/**
 * Steps the fault tests share: a live client, bursts of small files, and the checks made after
 * recovery (converged, no temporary file, the client still the one started).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { expect } from 'vitest';
import { put, waitFor, type CliHarness, type CliProcess } from '../helpers/cli-harness.js';
import { writeProjectFile } from '../e2e/fixtures.js';
import { listTempFiles } from '../helpers/faults.js';
import { diffSynced } from '../helpers/ssh-harness.js';

export const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;
/** How long a destination may take to converge once the fault is gone (backoff included). */
export const RECOVER_MS = 30_000;

/** Starts `sicksync` live in `root` and waits until it watches. */
export async function startWatching(cli: CliHarness, root: string, env?: Record<string, string>): Promise<CliProcess> {
  const live = cli.startCli([], { cwd: root, ...(env ? { env } : {}) });
  await live.waitForLine(WATCHING, { timeoutMs: 30_000 });
  return live;
}

/**
 * A project at `<home>/project` with `files` (path → content) and one destination, synced live:
 * returns once the destination equals it.
 */
export async function startSyncedProject(
  cli: CliHarness,
  dest: string,
  files: Record<string, string>,
): Promise<{ root: string; live: CliProcess }> {
  const root = cli.path('project');
  await writeProjectFile(root, { destinations: [dest] });
  for (const [file, content] of Object.entries(files)) await put(path.join(root, file), content);
  const live = await startWatching(cli, root);
  await expectConverged(dest, root, live);
  return { root, live };
}

/** The folder a burst of small files goes to, relative to the project. */
export const BURST = 'burst';

/**
 * Writes `count` small files under `root/burst/<round>/` (a few at a time, as a build would), so a
 * fault can strike while they are on their way.
 */
export async function writeBurst(root: string, round: number, count: number): Promise<void> {
  const dir = path.join(root, BURST, `round-${round}`);
  await mkdir(dir, { recursive: true });
  for (let first = 0; first < count; first += 50) {
    const names = Array.from({ length: Math.min(50, count - first) }, (_, i) => first + i);
    await Promise.all(names.map((n) => writeFile(path.join(dir, `file-${n}.txt`), `round ${round} file ${n}\n`)));
  }
}

/** How many files of a burst round have reached `dest` so far. */
export async function countArrived(dest: string, round: number): Promise<number> {
  const names = await readdir(path.join(dest, BURST, `round-${round}`)).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('file-')).length;
}

/** Waits until the first files of a burst round are at `dest`: the burst is under way there. */
export async function waitForArrivals(dest: string, round: number, atLeast = 1): Promise<void> {
  await waitFor(async () => (await countArrived(dest, round)) >= atLeast, 20_000, {
    intervalMs: 5,
    describe: async () => `${await countArrived(dest, round)} files of round ${round} at ${dest}`,
  });
}

/** Throws at once when the live client is gone: waiting on for it to converge would only time out. */
export function checkRunning(live: CliProcess | undefined): void {
  if (live && !live.isRunning)
    throw new Error(`the client exited (code ${live.child.exitCode}, signal ${live.child.signalCode}):\n${live.output}`);
}

/** Waits until `dest` equals `root` while the client runs; the failure carries what the client printed. */
export async function expectConverged(dest: string, root: string, live?: CliProcess, timeoutMs = RECOVER_MS): Promise<void> {
  let last: string[] = [];
  await waitFor(
    async () => {
      checkRunning(live);
      last = await diffSynced(dest, root);
      return last.length === 0;
    },
    timeoutMs,
    {
      intervalMs: 100,
      describe: () =>
        `${dest} still differs from ${root}:\n  ${last.slice(0, 20).join('\n  ')}${live ? `\nsicksync printed:\n${live.output}` : ''}`,
    },
  );
}

/** No `*.sicksync-tmp-*` anywhere under `dest`. */
export async function expectNoTempFiles(dest: string): Promise<void> {
  expect(await listTempFiles(dest), `temporary files left under ${dest}`).toEqual([]);
}

/** Ctrl-C; the client must end cleanly (exit 0), however many faults it went through. */
export async function expectStopsCleanly(live: CliProcess): Promise<void> {
  expect(live.isRunning, `the client died during the fault:\n${live.output}`).toBe(true);
  const result = await live.stop();
  expect(result.code, live.output).toBe(0);
}
