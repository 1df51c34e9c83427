/**
 * Turns a relative path from a client into an absolute path that is certainly inside the root:
 * lexical checks first, then no parent folder may be a symlink (it could lead anywhere).
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, SicksyncError, hasErrno } from '../shared/errors.js';
import { validateRelativePath } from '../shared/paths.js';

/**
 * `checked` holds folders (relative) already seen to be real folders; callers forget them when they
 * move or delete folders. It saves an lstat per parent per operation, the bulk of small-file cost.
 */
export function resolveInsideRoot(root: string, path: string, checked?: Set<string>): string {
  validateRelativePath(path);
  const segments = path.split('/');
  let current = root;
  let relative = '';
  for (const segment of segments.slice(0, -1)) {
    current = join(current, segment);
    relative = relative ? `${relative}/${segment}` : segment;
    if (checked?.has(relative)) continue;
    let isLink: boolean;
    try {
      isLink = lstatSync(current).isSymbolicLink();
    } catch (error) {
      // A missing parent cannot be a symlink; the operation itself reports it if it matters.
      if (hasErrno(error, 'ENOENT')) break;
      throw error;
    }
    if (isLink) {
      throw new SicksyncError(
        ErrorCode.PATH_OUTSIDE_ROOT,
        `refused path ${JSON.stringify(path)}: its parent ${JSON.stringify(relative)} is a symlink`,
      );
    }
    checked?.add(relative);
  }
  return join(root, ...segments);
}
