import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Content hash used when size and mtime leave doubt. SHA-256: in Node's core and fast with SHA-NI. */
export async function getFileHash(absolutePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(absolutePath, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
