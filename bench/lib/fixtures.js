// Benchmark fixtures, made fresh for each run: a code tree, a tree of many small files, one big file.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Deterministic sizes from an index, so two runs make trees of the same shape. */
function sizeOf(i, min, max) {
  const spread = max - min;
  return min + (((i * 2654435761) % 4294967296) % (spread + 1));
}

/**
 * `files` files of `minBytes`-`maxBytes` in about files/20 folders, nested two deep
 * (`pkgN/modM/fileK.ts`), as a source tree is. Content is random, so nothing compresses.
 */
export function makeCodeTree(root, { files, minBytes, maxBytes, perFolder = 20 }) {
  const folders = Math.max(1, Math.round(files / perFolder));
  const packages = Math.max(1, Math.round(Math.sqrt(folders)));
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const folder = i % folders;
    const dir = join(root, `pkg${folder % packages}`, `mod${Math.floor(folder / packages)}`);
    if (i < folders) mkdirSync(dir, { recursive: true });
    const size = sizeOf(i, minBytes, maxBytes);
    writeFileBytes(join(dir, `file${i}.ts`), randomBytes(size));
    bytes += size;
  }
  return { files, folders, bytes };
}

function writeFileBytes(path, buffer) {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, buffer);
  } finally {
    closeSync(fd);
  }
}

/** One file of `mebibytes` MiB of random bytes. */
export function makeBigFile(path, mebibytes) {
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < mebibytes; written += 16) {
      writeSync(fd, randomBytes(Math.min(16, mebibytes - written) * 1024 * 1024));
    }
  } finally {
    closeSync(fd);
  }
}

/** Overwrites `mebibytes` MiB in the middle of `path` with new random bytes, in place. */
export function changeMiddle(path, fileMebibytes, mebibytes = 1) {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(mebibytes * 1024 * 1024), 0, mebibytes * 1024 * 1024, Math.floor(fileMebibytes / 2) * 1024 * 1024);
  } finally {
    closeSync(fd);
  }
}
