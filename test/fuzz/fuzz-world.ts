/**
 * The world a fuzz run happens in, all under the test's HOME: one real detached daemon (Unix
 * socket and TCP listener), an honest `sicksync` live client syncing a project to two destinations
 * (one per transport) while a person edits it, and roots for the fuzzer inside a sentinel folder
 * whose every other byte must stay as it was.
 *
 *   HOME/proj              the honest project, edited during the run
 *   HOME/s/dest, dest-tcp  its destinations (Unix socket, TCP)
 *   HOME/s/fuzz-a, fuzz-b  roots the fuzzer opens
 *   HOME/s/fuzz-swap       a fuzz root whose folders are swapped for symlinks to outside/ meanwhile
 *   HOME/s/outside         must stay empty: escaping writes and links aim here
 *   HOME/s/secret.txt      must never be read through the daemon (its hash is watched for)
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, realpath, rename, rm, symlink, unlink, writeFile, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning } from '../helpers/daemon-harness.js';
import { put, writeJson, type CliHarness, type CliProcess } from '../helpers/cli-harness.js';
import type { Random } from './prng.js';

export const WATCHING = /^watching for changes \(Ctrl-C to stop\)$/;

export interface FuzzWorld {
  home: string;
  project: string;
  sentinel: string;
  outside: string;
  honestDestinations: string[];
  /** Roots the fuzzer opens; the last one is `swapRoot`. */
  fuzzRoots: string[];
  swapRoot: string;
  socket: string;
  port: number;
  token: string;
  daemonPid: number;
  secretHash: string;
  cli: CliProcess;
}

async function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function readDaemonPid(home: string): number {
  return Number(readFileSync(path.join(home, '.sicksync', 'daemon.pid'), 'utf8').trim());
}

/** Starts the daemon (with a long heartbeat, so only bad bytes end a silent raw connection). */
export async function startDaemon(harness: CliHarness): Promise<{ port: number; token: string; pid: number }> {
  const port = await getFreePort();
  const result = await harness.runCli(['remote', 'start-daemon', '--listen', `ws://127.0.0.1:${port}`, '--grace', '5000'], {
    env: { SICKSYNC_HEARTBEAT_MS: '60000' },
  });
  if (result.code !== 0) throw new Error(`remote start-daemon failed (${result.code}):\n${result.stdout}${result.stderr}`);
  const token = (await readFile(harness.path('.sicksync', 'token'), 'utf8')).trim();
  return { port, token, pid: readDaemonPid(harness.home) };
}

/** The folders, the project and its config; the daemon must already run (startDaemon). */
export async function makeLayout(
  harness: CliHarness,
  port: number,
): Promise<Omit<FuzzWorld, 'cli' | 'token' | 'daemonPid' | 'socket' | 'port'>> {
  const home = harness.home;
  const sentinel = path.join(home, 's');
  const outside = path.join(sentinel, 'outside');
  const honestDestinations = [path.join(sentinel, 'dest'), path.join(sentinel, 'dest-tcp')];
  const fuzzRoots = ['fuzz-a', 'fuzz-b', 'fuzz-swap'].map((name) => path.join(sentinel, name));
  for (const dir of [outside, ...honestDestinations, ...fuzzRoots]) await mkdir(dir, { recursive: true });
  const secret = randomBytes(64);
  await writeFile(path.join(sentinel, 'secret.txt'), secret);
  const project = path.join(home, 'proj');
  await writeJson(path.join(project, '.sicksync-config.json'), {
    project: 'honest',
    destinations: [
      honestDestinations[0],
      { url: `ws://127.0.0.1:${port}`, tokenFile: '~/.sicksync/token', destinationLocation: honestDestinations[1] },
    ],
  });
  for (let i = 0; i < 20; i += 1) await put(path.join(project, `work/dir-${i % 4}/file-${i}.txt`), `file ${i}\n`);
  await put(path.join(project, 'README.md'), '# honest\n');
  return {
    home,
    project,
    sentinel,
    outside,
    honestDestinations,
    fuzzRoots,
    swapRoot: fuzzRoots[2]!,
    secretHash: createHash('sha256').update(secret).digest('hex'),
  };
}

/** True while the daemon that started the run is still the one answering (same pid, alive). */
export async function isSameDaemon(world: Pick<FuzzWorld, 'home' | 'daemonPid'>): Promise<boolean> {
  let pid: number;
  try {
    pid = readDaemonPid(world.home);
  } catch {
    return false;
  }
  return pid === world.daemonPid && (await isRunning(pid));
}

// ---------------------------------------------------------------------------------------------
// What must not change: everything under HOME except the project, the daemon's state folder and
// the contents of the destination roots (whose own existence and inode must not change either).

async function describePath(absolute: string, full: boolean): Promise<string> {
  const stats = await lstat(absolute, { bigint: true });
  const kind = stats.isDirectory()
    ? 'dir'
    : stats.isSymbolicLink()
      ? `link -> ${await readlink(absolute)}`
      : stats.isFile()
        ? 'file'
        : 'other';
  if (!full) return `${kind} ino ${stats.ino}`;
  return `${kind} mode ${(stats.mode & 0o7777n).toString(8)} size ${stats.size} mtime ${stats.mtimeNs} ino ${stats.ino}`;
}

export async function snapshotOutside(
  world: Pick<FuzzWorld, 'home' | 'project' | 'sentinel' | 'honestDestinations' | 'fuzzRoots'>,
  escapeName: string,
): Promise<Map<string, string>> {
  const roots = new Set([...world.honestDestinations, ...world.fuzzRoots]);
  const skipped = new Set([world.project, path.join(world.home, '.sicksync')]);
  const snapshot = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const absolute = path.join(dir, name);
      if (skipped.has(absolute)) continue;
      const isRoot = roots.has(absolute);
      const description = await describePath(absolute, !isRoot);
      snapshot.set(absolute, description);
      if (!isRoot && description.startsWith('dir')) await walk(absolute);
    }
  };
  await walk(world.home);
  snapshot.set(world.sentinel, await describePath(world.sentinel, true));
  // Escapes that climb above HOME land in the temp folder (HOME is a folder of it): their names say so.
  for (const name of await readdir(tmpdir())) {
    if (name.startsWith(escapeName)) snapshot.set(path.join(tmpdir(), name), 'an escaped name');
  }
  return snapshot;
}

export function diffSnapshots(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [file, was] of before) {
    const now = after.get(file);
    if (now === undefined) lines.push(`${file}: removed (was ${was})`);
    else if (now !== was) lines.push(`${file}: changed from ${was} to ${now}`);
  }
  for (const [file, now] of after) if (!before.has(file)) lines.push(`${file}: appeared (${now})`);
  return lines;
}

/** Symlinks under `root` whose real location is outside it (the daemon must never make one). */
export async function findEscapingLinks(root: string): Promise<string[]> {
  const realRoot = await realpath(root);
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const absolute = path.join(dir, name);
      const stats = await lstat(absolute).catch(() => null);
      if (!stats) continue;
      if (stats.isDirectory()) await walk(absolute);
      if (!stats.isSymbolicLink()) continue;
      const real = await realpath(absolute).catch(() => null);
      if (real !== null && real !== realRoot && !real.startsWith(`${realRoot}/`)) {
        found.push(`${path.relative(root, absolute)} -> ${await readlink(absolute)} (really ${real})`);
      }
    }
  };
  await walk(root);
  return found;
}

/**
 * Names that came and went in folders that must not change (inotify through fs.watch): a snapshot
 * taken at the end misses a temporary file created outside and removed again; this does not.
 */
export function watchNames(dirs: readonly string[], ignored: ReadonlySet<string>): { seen: Set<string>; stop(): void } {
  const seen = new Set<string>();
  const watchers: FSWatcher[] = dirs.map((dir) =>
    watch(dir, (_event, name) => {
      if (name && !ignored.has(name)) seen.add(path.join(dir, name));
    }).on('error', () => undefined),
  );
  return {
    seen,
    stop: () => {
      for (const watcher of watchers) watcher.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Background actors: a person editing the project, and someone swapping folders for symlinks.

export interface Actor {
  stop(): Promise<void>;
}

function startLoop(step: () => Promise<void>, pauseMs: () => number): Actor {
  let running = true;
  const done = (async () => {
    while (running) {
      await step().catch(() => undefined); // races with the sync are expected; the end state is what counts
      await sleep(pauseMs());
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Creates, edits, renames, deletes files and folders of the honest project, small and often. */
export function startEditor(project: string, random: Random): Actor {
  let counter = 0;
  const files = async (): Promise<string[]> => {
    const found: string[] = [];
    for (const dir of await readdir(path.join(project, 'work')).catch(() => [])) {
      for (const name of await readdir(path.join(project, 'work', dir)).catch(() => [])) found.push(path.join(project, 'work', dir, name));
    }
    return found;
  };
  return startLoop(
    async () => {
      counter += 1;
      const existing = await files();
      const some = existing.length > 0 ? random.pick(existing) : null;
      switch (random.int(7)) {
        case 0:
        case 1:
          await put(path.join(project, `work/dir-${random.int(6)}/new-${counter}.txt`), random.bytes(random.int(5000)));
          break;
        case 2:
          if (some) await writeFile(some, `edited ${counter}\n${randomBytes(random.int(100)).toString('hex')}`);
          break;
        case 3:
          if (some) await unlink(some);
          break;
        case 4:
          if (some) await rename(some, path.join(project, `work/dir-${random.int(6)}/moved-${counter}.txt`)).catch(() => undefined);
          break;
        case 5:
          if (some) await chmod(some, random.pick([0o644, 0o755, 0o600]));
          break;
        default:
          await mkdir(path.join(project, `work/dir-${random.int(6)}/empty-${counter}`), { recursive: true });
      }
    },
    () => 20 + random.int(60),
  );
}

/**
 * Swaps folders of the swap root for symlinks to outside/ and back, as another process of the
 * same user could at any moment: a write must be confined where the path really goes at that moment.
 */
export function startSwapper(swapRoot: string, outside: string): Actor {
  let toLink = true;
  return startLoop(
    async () => {
      for (const name of ['swap', 'a', 'd']) {
        const where = path.join(swapRoot, name);
        await rm(where, { recursive: true, force: true });
        if (toLink) await symlink(outside, where);
        else await mkdir(where);
      }
      toLink = !toLink;
    },
    () => 5,
  );
}
