/**
 * `sicksync --once` against local destinations: what arrives, what stays behind, what is deleted,
 * and the exit code that says whether every destination converged.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffFolders, diffTrees, put, treeOf, useCliHarness } from '../helpers/cli-harness.js';
import { excludeRich, makeFlatProject, makeRichProject, writeProjectFile } from './fixtures.js';

const harness = useCliHarness();

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('sicksync --once', () => {
  it('makes two local destinations identical to the project, leaves excluded paths behind, then has nothing to send', async () => {
    const root = harness.path('rich');
    const d1 = harness.path('dest-1');
    const d2 = harness.path('dest-2');
    await makeRichProject(root, [d1, d2]);

    const first = await harness.runCli(['--once'], { cwd: root });
    expect(first.stderr).toBe('');
    expect(first.code, first.stdout).toBe(0);
    expect(first.stdout).toMatch(/^all destinations up to date$/m);
    for (const dest of [d1, d2]) {
      expect(await diffFolders(dest, root, { exclude: excludeRich }), dest).toEqual([]);
      for (const excluded of ['app.log', 'src/debug.log', 'node_modules', 'src/node_modules', 'build', 'secret.env']) {
        await expect(lstat(path.join(dest, excluded)), `${dest}/${excluded}`).rejects.toThrow(/ENOENT/);
      }
    }
    // The anchored pattern /secret.env keeps only the root's file back.
    expect(await readFile(path.join(d1, 'src/secret.env'), 'utf8')).toMatch(/NOT_EXCLUDED/);

    const before = await treeOf(d1);
    const second = await harness.runCli(['--once'], { cwd: root });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^${escape(d1)}: up to date`, 'm'));
    expect(second.stdout).toMatch(new RegExp(`^${escape(d2)}: up to date`, 'm'));
    expect(diffTrees(await treeOf(d1), before)).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  it('sends a same-size edit made within the same second as the previous sync', async () => {
    const root = harness.path('rich');
    const d1 = harness.path('dest-1');
    const d2 = harness.path('dest-2');
    await makeRichProject(root, [d1, d2]);
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);

    // Right after the sync: same length, same inode (written in place), mtime in the same second.
    const file = path.join(root, 'src/index.ts');
    const original = await readFile(file, 'utf8');
    const edited = original.replace('42', '43');
    expect(edited).toHaveLength(original.length);
    await writeFile(file, edited);

    const again = await harness.runCli(['--once'], { cwd: root });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const dest of [d1, d2]) {
      expect(await readFile(path.join(dest, 'src/index.ts'), 'utf8')).toBe(edited);
      expect(await diffFolders(dest, root, { exclude: excludeRich }), dest).toEqual([]);
    }
    await harness.expectNoProcessesLeft();
  });

  it('replaces a destination file of the same size and the same whole-second mtime but other content (rsync quick check miss)', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'same.txt'), 'local version\n');
    await put(path.join(dest, 'same.txt'), 'remote version\n'.slice(0, 'local version\n'.length));
    const second = 1_600_000_000;
    await utimes(path.join(root, 'same.txt'), second, second);
    await utimes(path.join(dest, 'same.txt'), second, second);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await readFile(path.join(dest, 'same.txt'), 'utf8')).toBe('local version\n');
    expect(await diffFolders(dest, root)).toEqual([]);
  });

  it('keeps the modification times of symlinks', async () => {
    const root = harness.path('rich');
    const dest = harness.path('dest');
    await makeRichProject(root, [dest]);
    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await diffFolders(dest, root, { exclude: excludeRich, symlinkMtimes: true })).toEqual([]);
  });

  // A destination refused at the handshake must not keep --once from exiting (its connection was
  // left open once the handshake failed, which kept the client, and so the daemon, alive).
  it('exits 1 naming a destination that cannot be written (a file stands in its place), while the other still converges', async () => {
    const root = harness.path('rich');
    const good = harness.path('dest-good');
    // Tests run as root, so a read-only parent would stop nothing: a plain file in the way does.
    const blocked = harness.path('a-file-not-a-folder');
    await put(blocked, 'I am a file\n');
    await makeRichProject(root, [blocked, good]);

    const result = await harness.runCli(['--once'], { cwd: root, timeoutMs: 15_000 });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${escape(blocked)}: .+`, 'm'));
    expect(result.stderr).not.toContain(good);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(result.stdout).toMatch(/some destinations did not converge/);
    expect(await readFile(blocked, 'utf8')).toBe('I am a file\n');
    expect(await diffFolders(good, root, { exclude: excludeRich })).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  // Pins a bug: the daemon created the destination with fs.mkdir({ recursive: true }), which
  // spins forever on procfs (mkdir of a missing child of /proc fails with ENOENT, so node keeps
  // "creating the parent"), and the client waited for the handshake without a deadline.
  it('exits 1 naming a destination under /proc, which cannot be created, while the other still converges', async () => {
    const root = harness.path('rich');
    const good = harness.path('dest-good');
    const inProc = `/proc/sicksync-e2e-${path.basename(harness.home)}/dest`;
    await makeRichProject(root, [good, inProc]);

    const result = await harness.runCli(['--once'], { cwd: root, timeoutMs: 15_000 });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${escape(inProc)}: .+`, 'm'));
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await diffFolders(good, root, { exclude: excludeRich })).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  it('a folder holding a file sent in several chunks gets its own mtime', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    await put(path.join(root, 'data/big.bin'), randomBytes(6 * 1024 * 1024));
    await put(path.join(root, 'data/small.txt'), 'small\n');
    // Whole seconds: exact through utimes(), so only the order of operations is tested here.
    await utimes(path.join(root, 'data'), 1_500_000_000, 1_500_000_000);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((await lstat(path.join(dest, 'data'), { bigint: true })).mtimeNs).toBe(1_500_000_000_000_000_000n);
  });

  // Pins a bug: times were set with utimes(), whose libuv implementation truncates to whole
  // microseconds (uv__fs_to_timespec: `ts.tv_nsec -= ts.tv_nsec % 1000`) after the nanoseconds went
  // through a double, so a copied mtime could land more than 1 µs below the source's: beyond the
  // 1 µs within which sicksync itself counts two mtimes as equal (hasSameMtime).
  it('regression: a file mtime copied through utimes() stays within 1 µs of the source', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    const file = path.join(root, 'precise.txt');
    await put(file, 'precise\n');
    const mtimeNs = findMtimeNs((ns) => ns - landAfterUtimes(ns) >= 1000n);
    setMtimeNs(file, mtimeNs);

    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const copied = (await lstat(path.join(dest, 'precise.txt'), { bigint: true })).mtimeNs;
    expect(mtimeNs - copied, `source ${mtimeNs}, destination ${copied}`).toBeLessThan(1000n);
  });

  // Pins a bug: every write into a folder read the folder's times and put them back with
  // utimes(), which truncated again: a folder's mtime drifted down by up to 1 µs per write into it.
  it('regression: a folder mtime does not drift when files inside it are written again', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await writeProjectFile(root, { destinations: [dest] });
    const folder = path.join(root, 'folder');
    await put(path.join(folder, 'a.txt'), 'version 1\n');
    // Copied once it stays within 1 µs; put back once more, it does not.
    const mtimeNs = findMtimeNs((ns) => ns - landAfterUtimes(ns) < 1000n && ns - landAfterUtimes(landAfterUtimes(ns)) >= 1000n);
    setMtimeNs(folder, mtimeNs);
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    const first = (await lstat(path.join(dest, 'folder'), { bigint: true })).mtimeNs;
    expect(mtimeNs - first, `source ${mtimeNs}, destination ${first}`).toBeLessThan(1000n);

    await writeFile(path.join(folder, 'a.txt'), 'version 2\n'); // in place: the folder's own mtime stays
    expect((await lstat(folder, { bigint: true })).mtimeNs).toBe(mtimeNs);
    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await readFile(path.join(dest, 'folder/a.txt'), 'utf8')).toBe('version 2\n');
    const second = (await lstat(path.join(dest, 'folder'), { bigint: true })).mtimeNs;
    expect(mtimeNs - second, `source ${mtimeNs}, destination ${second}`).toBeLessThan(1000n);
  });
});

/** Where utimes(Number(ns) / 1e9) puts an mtime: libuv's double → timespec, truncated to microseconds. */
function landAfterUtimes(ns: bigint): bigint {
  const time = Number(ns) / 1e9;
  const sec = Math.trunc(time);
  let nsec = Math.trunc((time - sec) * 1e9);
  nsec -= nsec % 1000;
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

/** The first mtime after 1.7e9 s (plus a fraction) for which `accept` holds. */
function findMtimeNs(accept: (ns: bigint) => boolean): bigint {
  const base = 1_700_000_000_123_456_000n;
  for (let ns = base; ns < base + 10_000_000n; ns += 1n) if (accept(ns)) return ns;
  throw new Error('no such mtime in the range searched');
}

/** touch sets nanoseconds exactly, which node's utimes cannot. */
function setMtimeNs(file: string, ns: bigint): void {
  const stamp = `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  execFileSync('touch', ['-m', '-d', stamp, file]);
}

describe('deletions', () => {
  it('propagates local deletions of files, links and whole folders after the first sync', async () => {
    const root = harness.path('rich');
    const d1 = harness.path('dest-1');
    const d2 = harness.path('dest-2');
    await makeRichProject(root, [d1, d2]);
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);

    await unlink(path.join(root, 'src/lib/util.ts'));
    await unlink(path.join(root, 'link-to-readme'));
    await rm(path.join(root, 'nested'), { recursive: true });
    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const dest of [d1, d2]) {
      await expect(lstat(path.join(dest, 'src/lib/util.ts'))).rejects.toThrow(/ENOENT/);
      await expect(lstat(path.join(dest, 'nested'))).rejects.toThrow(/ENOENT/);
      expect(await diffFolders(dest, root, { exclude: excludeRich }), dest).toEqual([]);
    }
  });

  it('keeps files that only the destination had, unless --delete-extraneous', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await makeFlatProject(root, [dest], 12);
    await put(path.join(dest, 'only-there.txt'), 'mine\n');
    await put(path.join(dest, 'old/stale.txt'), 'stale\n');

    const first = await harness.runCli(['--once'], { cwd: root });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const extraneous = ['old: unexpected dir', 'old/stale.txt: unexpected file', 'only-there.txt: unexpected file'];
    expect(await diffFolders(dest, root)).toEqual(extraneous);

    // Later syncs do not take them for deletions either: they were never synced.
    const second = await harness.runCli(['--once'], { cwd: root });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual(extraneous);

    const cleaning = await harness.runCli(['--once', '--delete-extraneous'], { cwd: root });
    expect(cleaning.code, cleaning.stdout + cleaning.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  it('refuses a sync that would delete more than deleteGuard of the destination, until --force', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await makeFlatProject(root, [dest], 10, { deleteGuard: 0.3 });
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    const synced = await treeOf(dest);

    // 6 of 11 entries (10 files and the project file): more than 30 %.
    for (let i = 0; i < 6; i += 1) await unlink(path.join(root, `file-0${i}.txt`));
    const guarded = await harness.runCli(['--once'], { cwd: root });
    expect(guarded.code, guarded.stdout + guarded.stderr).toBe(1);
    expect(guarded.stderr).toMatch(/--force/);
    expect(guarded.stderr).toMatch(/SICKSYNC_E_DELETE_GUARD/);
    expect(guarded.stderr).toContain(dest);
    expect(diffTrees(await treeOf(dest), synced), 'nothing may change at the destination').toEqual([]);

    const forced = await harness.runCli(['--once', '--force'], { cwd: root });
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);
    await harness.expectNoProcessesLeft();
  });

  it('a delete guard of 0.3 lets a sync delete 30 % or less', async () => {
    const root = harness.path('proj');
    const dest = harness.path('dest');
    await makeFlatProject(root, [dest], 9, { deleteGuard: 0.3 });
    expect((await harness.runCli(['--once'], { cwd: root })).code).toBe(0);
    // 3 of 10 entries: exactly 30 %.
    for (let i = 0; i < 3; i += 1) await unlink(path.join(root, `file-0${i}.txt`));
    await writeFile(path.join(root, 'new.bin'), randomBytes(1000));
    const result = await harness.runCli(['--once'], { cwd: root });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await diffFolders(dest, root)).toEqual([]);
  });
});
