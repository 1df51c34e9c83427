import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Content hash used when size and mtime leave doubt. SHA-256: in Node's core and fast with SHA-NI. */
/** `file` is a path, or a descriptor opened for reading (closed once read). */
export async function getFileHash(file: string | number): Promise<string> {
  const hash = createHash('sha256');
  const stream =
    typeof file === 'number'
      ? createReadStream('', { fd: file, highWaterMark: 1024 * 1024 })
      : createReadStream(file, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Largest file whose content is hashed to tell our own write from someone else's (tree-index.ts). */
export const ECHO_CHECK_MAX = 1024 * 1024;

export function createContentHash() {
  return createHash('sha256');
}
