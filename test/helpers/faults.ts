/**
 * Faults for the fault tier: hard kills, a filesystem that fills up, a descriptor limit, a folder
 * that turns read-only, and the checks made once the cause is gone (no temporary file left, a big
 * file seen only whole).
 *
 * Mounts and kills are real (the tests run as root on Linux); every mount made here is undone by
 * the hook `useFaults` registers, whether the test passed or not, so a failed test never leaves a
 * tmpfs or a read-only bind behind for the next one.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, afterEach } from 'vitest';
import { waitFor } from './cli-harness.js';
import { listDescendants } from './ssh-harness.js';

const run = promisify(execFile);

/** The name every destination-side temporary file has (src/shared/tree/atomic-write.ts). */
export const TEMP_FILE = /\.sicksync-tmp-/;

// ---------------------------------------------------------------------------------------------
// Processes

/** Whether `pid` still runs; a zombie (dead, not yet reaped) does not. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGKILL, then waits until the process is really gone (its sockets and files closed by the kernel). */
export async function killHard(pid: number, timeoutMs = 5000): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  await waitFor(async () => !(await isAlive(pid)), timeoutMs, { describe: () => `pid ${pid} outlived SIGKILL` });
}

/** SIGKILL to `pid` and every process under it, children first seen before any of them dies. */
export async function killTreeHard(pid: number): Promise<void> {
  const tree = [pid, ...(await listDescendants(pid))];
  for (const each of tree) {
    try {
      process.kill(each, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const each of tree) await killHard(each);
}

/** How many descriptors `pid` holds open now. */
export async function countDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** Sets RLIMIT_NOFILE of a running process (prlimit(1), util-linux). */
export async function setDescriptorLimit(pid: number, soft: number, hard = soft): Promise<void> {
  await run('prlimit', ['--pid', String(pid), `--nofile=${soft}:${hard}`]);
}

// ---------------------------------------------------------------------------------------------
// Files

/** Every temporary file under `dir`, as paths relative to it (a missing folder has none). */
export async function listTempFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path.join(dir, relative), { withFileTypes: true });
    } catch {
      return; // gone meanwhile, or never there
    }
    for (const entry of entries) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (TEMP_FILE.test(entry.name)) found.push(rel);
      if (entry.isDirectory()) await walk(rel);
    }
  };
  await walk('');
  return found.sort();
}

/** The temporary file being written for `target` (same folder, `.<name>.sicksync-tmp-*`), with its size. */
export async function findTempFileOf(target: string): Promise<{ file: string; size: number } | null> {
  const prefix = `.${path.basename(target)}.sicksync-tmp-`;
  const names = await readdir(path.dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const file = path.join(path.dirname(target), name);
    const size = await stat(file).then(
      (stats) => stats.size,
      () => -1,
    );
    if (size >= 0) return { file, size };
  }
  return null;
}

/** Polls until the temporary file of `target` holds at least `bytes`, i.e. a stream to it is under way. */
export async function waitForTempFileOf(target: string, bytes: number, timeoutMs = 20_000): Promise<void> {
  let last: { size: number } | null = null;
  await waitFor(async () => (last = await findTempFileOf(target)) !== null && last.size >= bytes, timeoutMs, {
    intervalMs: 5,
    describe: () => `no temporary file of ${target} reached ${bytes} B (last seen: ${last ? `${last.size} B` : 'none'})`,
  });
}

export interface Content {
  size: number;
  sha256: string;
}

/**
 * Writes `bytes` of content unique to this call (a random MiB repeated, so it is fast to make) to
 * `file`, through `staging` (a file on the same filesystem outside the project) and a rename: a
 * watcher sees the whole new file at once, never one that grows.
 */
export async function writeLargeFile(file: string, bytes: number, staging: string): Promise<Content> {
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  const handle = await open(staging, 'w');
  try {
    for (let written = 0; written < bytes;) {
      const piece = block.subarray(0, Math.min(block.length, bytes - written));
      await handle.write(piece);
      hash.update(piece);
      written += piece.length;
    }
  } finally {
    await handle.close();
  }
  await rename(staging, file);
  return { size: bytes, sha256: hash.digest('hex') };
}

/** SHA-256 of a file, read through one descriptor (so a rename over it meanwhile does not mix two files). */
export async function hashFile(file: string): Promise<Content | null> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of handle.createReadStream({ autoClose: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}

/**
 * Watches one destination file for as long as it runs and hashes every version of it that appears
 * (a new inode, size or mtime), so a test can check that a reader only ever saw whole versions. A
 * version that changes while it is being read was written in place: it is recorded as `in place`.
 */
export class FileVersions {
  readonly seen: (Content | 'in place')[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly file: string) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let last = '';
    while (!this.stopped) {
      const handle = await open(this.file, 'r').catch(() => null);
      if (handle) {
        try {
          const before = await handle.stat({ bigint: true });
          const key = `${before.ino}:${before.size}:${before.mtimeNs}`;
          if (key !== last) {
            last = key;
            const hash = createHash('sha256');
            let size = 0;
            for await (const chunk of handle.createReadStream({ autoClose: false, start: 0 })) {
              hash.update(chunk as Buffer);
              size += (chunk as Buffer).length;
            }
            const after = await handle.stat({ bigint: true });
            const changed = after.size !== before.size || after.mtimeNs !== before.mtimeNs;
            this.seen.push(changed ? 'in place' : { size, sha256: hash.digest('hex') });
          }
        } finally {
          await handle.close();
        }
      }
      await sleep(20);
    }
  }

  /** Stops watching; resolves with every version seen. */
  async stop(): Promise<(Content | 'in place')[]> {
    this.stopped = true;
    await this.loop;
    return this.seen;
  }
}

/**
 * Fills the filesystem of `file` from outside the program under test: appends until ENOSPC, with
 * smaller and smaller pieces so that hardly a byte is left. Returns the bytes written.
 */
export async function fillFilesystem(file: string): Promise<number> {
  const handle = await open(file, 'a');
  let written = 0;
  try {
    for (const size of [256 * 1024, 4096, 512, 1]) {
      const piece = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          await handle.write(piece);
          written += size;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    await handle.close();
  }
  return written;
}

// ---------------------------------------------------------------------------------------------
// Mounts

async function mount(args: string[]): Promise<void> {
  await run('mount', args);
}

/** Unmounts `dir`; when something there is still busy, detaches it lazily (the kernel finishes later). */
async function unmount(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await run('umount', [dir]);
      return;
    } catch (error) {
      const text = String((error as { stderr?: string }).stderr ?? error);
      if (/not mounted|no mount point/i.test(text)) return;
      await sleep(100);
    }
  }
  await run('umount', ['-l', dir]);
}

/**
 * Whether this machine lets the tests mount a tmpfs and make a read-only bind (root, Linux, no
 * seccomp or user-namespace refusal); when not, why, for the skip message.
 */
export async function probeMounts(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sf-probe-'));
  try {
    await mount(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    await unmount(dir);
    await mount(['--bind', dir, dir]);
    await mount(['-o', 'remount,bind,ro', dir]);
    await unmount(dir);
    return { ok: true };
  } catch (error) {
    const text = String((error as { stderr?: string }).stderr || (error as Error).message).trim();
    return { ok: false, reason: `cannot mount here (${text || 'mount failed'}); run as root on Linux` };
  } finally {
    await unmount(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** A read-only bind of a folder over itself: the folder's content stays, writes fail with EROFS. */
export interface ReadOnlyFolder {
  dir: string;
  /** Removes the bind: the same folder is writable again. */
  makeWritable(): Promise<void>;
}

/**
 * The mounts of one test and the scratch folders that hold them, undone after each test. Scratch
 * folders live outside the test's HOME, so removing HOME never meets a mount point.
 */
export class Faults {
  private readonly mounts: string[] = [];
  private readonly scratch: string[] = [];

  /** A new empty folder outside HOME (removed after the test). */
  async makeScratch(): Promise<string> {
    const dir = await realpath(await mkdtemp(path.join(tmpdir(), 'sf-')));
    this.scratch.push(dir);
    return dir;
  }

  /** A real tmpfs of `bytes` mounted on a new scratch folder; returns the mount point. */
  async mountTmpfs(bytes: number): Promise<string> {
    const dir = await this.makeScratch();
    await mount(['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir]);
    this.mounts.push(dir);
    return dir;
  }

  /** Makes `dir` read-only in place (a read-only bind mount over itself), even for root. */
  async makeReadOnly(dir: string): Promise<ReadOnlyFolder> {
    await mount(['--bind', dir, dir]);
    this.mounts.push(dir);
    await mount(['-o', 'remount,bind,ro', dir]);
    return {
      dir,
      makeWritable: async () => {
        await unmount(dir);
        this.mounts.splice(this.mounts.lastIndexOf(dir), 1);
      },
    };
  }

  /** Undoes every mount (last first) and removes the scratch folders; reports what it could not undo. */
  async tearDown(): Promise<void> {
    const problems: string[] = [];
    for (const dir of this.mounts.splice(0).reverse()) {
      await unmount(dir).catch((error: unknown) => problems.push(`could not unmount ${dir}: ${String(error)}`));
    }
    for (const dir of this.scratch.splice(0)) {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch((error: unknown) =>
        problems.push(`could not remove ${dir}: ${String(error)}`),
      );
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }
}

/** Registers the hooks that undo a test's mounts after it, passed or failed (and once more at the end of the file). */
export function useFaults(): Faults {
  const faults = new Faults();
  afterEach(() => faults.tearDown());
  afterAll(() => faults.tearDown());
  return faults;
}
