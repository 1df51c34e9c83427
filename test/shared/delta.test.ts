/**
 * Delta transfer end to end on real files, without a socket: the destination's signature of the
 * file it has, the client's instructions for the new version, and the destination rebuilding it,
 * for the edits that move blocks around (in place, insertions, deletions, appends, truncation),
 * and instructions a hostile client could send.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDelta, hashAlignedBlocks } from '../../src/client/endpoint/delta-encoder.js';
import {
  decodeSignature,
  encodeCopy,
  encodeDataHeader,
  getBlockSize,
  getWeakHash,
  rollWeakHash,
  WEAK_SPAN,
} from '../../src/shared/delta.js';
import type { Entry } from '../../src/shared/entry.js';
import { createIgnoreRules } from '../../src/shared/ignore-rules.js';
import { DestinationRoot } from '../../src/shared/tree/destination-root.js';

const MiB = 1024 * 1024;
const folders: string[] = [];

afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

async function makeDir(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'ss-delta-'));
  folders.push(folder);
  return folder;
}

async function entryOf(path: string, name: string): Promise<Entry> {
  const stats = await stat(path, { bigint: true });
  return { path: name, kind: 'file', size: Number(stats.size), mode: 0o644, mtimeNs: stats.mtimeNs.toString(), ino: stats.ino.toString() };
}

/** Sends `next` as a delta against `old` at a destination; returns what it holds after, and the literal bytes. */
async function transfer(
  old: Buffer,
  next: Buffer,
  feed: (write: { append(bytes: Uint8Array): Promise<void> }, pieces: Buffer[]) => Promise<void> = feedAll,
) {
  const base = await makeDir();
  const dest = join(base, 'dest');
  const local = join(base, 'local');
  await Promise.all([mkdir(dest), mkdir(local)]);
  await writeFile(join(dest, 'data.bin'), old);
  await writeFile(join(local, 'data.bin'), next);
  const tree = new DestinationRoot(dest, createIgnoreRules([]), { clientName: 'test', history: null });
  const baseEntry = await entryOf(join(dest, 'data.bin'), 'data.bin');
  const { blockSize, encoded } = await tree.signature('data.bin', baseEntry);
  expect(blockSize).toBe(getBlockSize(old.length));
  const signature = decodeSignature(encoded, old.length, blockSize);
  const entry = await entryOf(join(local, 'data.bin'), 'data.bin');
  const fd = openSync(join(local, 'data.bin'), 'r');
  const pieces: Buffer[] = [];
  let literalBytes: number;
  try {
    const aligned = await hashAlignedBlocks(fd, entry.size, blockSize);
    ({ literalBytes } = await encodeDelta(fd, entry, signature, aligned, (piece) => {
      pieces.push(piece);
      return Promise.resolve();
    }));
  } finally {
    closeSync(fd);
  }
  const write = tree.beginDeltaWrite('data.bin', entry.size, baseEntry, blockSize);
  await feed(write, pieces);
  tree.finishWrite('data.bin', write, 0o644, entry.mtimeNs);
  return { result: await readFile(join(dest, 'data.bin')), literalBytes, dest };
}

async function feedAll(write: { append(bytes: Uint8Array): Promise<void> }, pieces: Buffer[]): Promise<void> {
  for (const piece of pieces) await write.append(piece);
}

describe('delta transfer', () => {
  it('rolls its weak hash to the same value as computing it afresh', () => {
    const data = randomBytes(4 * WEAK_SPAN);
    let hash = getWeakHash(data, 0);
    for (let at = 1; at + WEAK_SPAN <= data.length; at++) {
      hash = rollWeakHash(hash, data[at - 1]!, data[at + WEAK_SPAN - 1]!);
      expect(hash).toBe(getWeakHash(data, at));
    }
  });

  it('sends only the changed MiB of a file changed in place', async () => {
    const old = randomBytes(16 * MiB);
    const next = Buffer.from(old);
    randomBytes(MiB).copy(next, 7 * MiB + 12345);
    const { result, literalBytes } = await transfer(old, next);
    expect(result.equals(next)).toBe(true);
    // The changed MiB and at most the two blocks it straddles.
    expect(literalBytes).toBeLessThanOrEqual(MiB + 2 * getBlockSize(old.length));
  });

  it('finds the blocks after an insertion at their new offset, and after a deletion', async () => {
    const old = randomBytes(8 * MiB);
    const inserted = Buffer.concat([old.subarray(0, 3 * MiB + 7), randomBytes(1000), old.subarray(3 * MiB + 7)]);
    const withInsert = await transfer(old, inserted);
    expect(withInsert.result.equals(inserted)).toBe(true);
    expect(withInsert.literalBytes).toBeLessThan(1000 + 2 * getBlockSize(old.length));

    const removed = Buffer.concat([old.subarray(0, 2 * MiB + 3), old.subarray(2 * MiB + 50_003)]);
    const withDelete = await transfer(old, removed);
    expect(withDelete.result.equals(removed)).toBe(true);
    expect(withDelete.literalBytes).toBeLessThan(2 * getBlockSize(old.length));
  });

  it('handles a file that grew, one that shrank, one that is all new, and one unchanged', async () => {
    const old = randomBytes(3 * MiB + 333);
    for (const next of [
      Buffer.concat([old, randomBytes(MiB + 5)]),
      old.subarray(0, 2 * MiB + 17),
      randomBytes(2 * MiB),
      Buffer.from(old),
    ]) {
      const { result } = await transfer(old, next);
      expect(result.equals(next)).toBe(true);
    }
    expect((await transfer(old, Buffer.from(old))).literalBytes).toBe(0);
  });

  it('takes instructions split anywhere between frames, a byte at a time included', async () => {
    const old = randomBytes(2 * MiB);
    const next = Buffer.concat([randomBytes(100), old.subarray(0, MiB), randomBytes(5000), old.subarray(MiB)]);
    const { result } = await transfer(old, next, async (write, pieces) => {
      const all = Buffer.concat(pieces);
      // Byte by byte through the first record boundaries, then in odd sizes.
      let at = 0;
      for (; at < 64; at++) await write.append(all.subarray(at, at + 1));
      for (; at < all.length; at += 7777) await write.append(all.subarray(at, Math.min(at + 7777, all.length)));
    });
    expect(result.equals(next)).toBe(true);
  });

  it('refuses instructions that reach outside the old file, say more than the announced size, or are unknown, and leaves the file as it was', async () => {
    const dest = await makeDir();
    const old = randomBytes(2 * MiB);
    await writeFile(join(dest, 'data.bin'), old);
    const tree = new DestinationRoot(dest, createIgnoreRules([]), { clientName: 'test', history: null });
    const baseEntry = await entryOf(join(dest, 'data.bin'), 'data.bin');
    const blockSize = getBlockSize(old.length);
    const blocks = Math.ceil(old.length / blockSize);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['a block past the end', encodeCopy(blocks, 1), /blocks/],
      ['a run past the end', encodeCopy(blocks - 1, 2), /blocks/],
      ['an empty run', encodeCopy(0, 0), /blocks/],
      ['more bytes than announced', Buffer.concat([encodeDataHeader(10), randomBytes(10)]), /more bytes|announced/],
      ['an unknown instruction', Buffer.from([9, 0, 0, 0, 1]), /unknown delta instruction/],
    ];
    for (const [, payload, message] of cases) {
      const write = tree.beginDeltaWrite('data.bin', 5, baseEntry, blockSize);
      await expect(write.append(payload)).rejects.toThrow(message);
      write.abort();
    }
    const truncated = tree.beginDeltaWrite('data.bin', blockSize, baseEntry, blockSize);
    await truncated.append(encodeCopy(0, 1).subarray(0, 4));
    expect(() => tree.finishWrite('data.bin', truncated, 0o644, '1700000000000000000')).toThrow(/inside an instruction/);
    expect(() => tree.beginDeltaWrite('data.bin', 10, baseEntry, blockSize * 2)).toThrow(/blocks/);
    expect((await readFile(join(dest, 'data.bin'))).equals(old)).toBe(true);
    expect(await readdir(dest)).toEqual(['data.bin']);
  });

  it('refuses a delta against a version that is no longer there', async () => {
    const old = randomBytes(2 * MiB);
    const dest = await makeDir();
    await writeFile(join(dest, 'data.bin'), old);
    const tree = new DestinationRoot(dest, createIgnoreRules([]), { clientName: 'test', history: null });
    const baseEntry = await entryOf(join(dest, 'data.bin'), 'data.bin');
    await writeFile(join(dest, 'data.bin'), randomBytes(2 * MiB));
    await expect(tree.signature('data.bin', baseEntry)).rejects.toThrow(/changed/);
    expect(() => tree.beginDeltaWrite('data.bin', 10, baseEntry, getBlockSize(old.length))).toThrow(/changed/);
  });
});
