/**
 * Turns a relative path from a client into an absolute path that is certainly inside the root:
 * lexical checks first, then no parent folder may be a symlink (it could lead anywhere).
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { validateRelativePath } from '../shared/paths.js';

export async function resolveInsideRoot(root: string, path: string): Promise<string> {
  validateRelativePath(path);
  const segments = path.split('/');
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    try {
      const stats = await lstat(current);
      if (stats.isSymbolicLink()) {
        throw new SicksyncError(
          ErrorCode.PATH_OUTSIDE_ROOT,
          `refused path ${JSON.stringify(path)}: its parent ${JSON.stringify(current.slice(root.length + 1))} is a symlink`,
        );
      }
    } catch (error) {
      // A missing parent cannot be a symlink; the operation itself reports it if it matters.
      if (hasErrno(error, 'ENOENT')) break;
      throw error;
    }
  }
  return join(root, ...segments);
}
