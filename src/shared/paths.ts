/**
 * Relative paths as they cross the wire, and the rules that keep them inside a root. Everything
 * here is lexical; `src/remote/confine.ts` adds the filesystem checks (symlinked parents).
 */
import { posix } from 'node:path';
import { ErrorCode, SicksyncError } from './errors.js';

function refuse(path: string, why: string): never {
  throw new SicksyncError(ErrorCode.PATH_OUTSIDE_ROOT, `refused path ${JSON.stringify(path)}: ${why}`);
}

/** Throws unless `path` is a clean relative POSIX path that stays inside its root. */
export function validateRelativePath(path: string): string {
  if (path.length === 0) refuse(path, 'it is empty');
  if (path.includes('\0')) refuse(path, 'it contains a NUL byte');
  if (path.startsWith('/')) refuse(path, 'it is absolute');
  if (path.includes('\\')) refuse(path, 'it contains a backslash');
  for (const segment of path.split('/')) {
    if (segment === '..') refuse(path, "it climbs out of the root with '..'");
    if (segment === '' || segment === '.') refuse(path, 'it is not normalized');
  }
  return path;
}

/**
 * Throws unless a symlink at `linkPath` pointing to `target` resolves inside the root: an absolute
 * target, or one that climbs above the root, could be used to write outside it later.
 */
export function validateLinkTarget(linkPath: string, target: string): string {
  if (target.startsWith('/')) refuse(linkPath, `its link target ${JSON.stringify(target)} is absolute`);
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../')) {
    refuse(linkPath, `its link target ${JSON.stringify(target)} leads outside the root`);
  }
  return target;
}

export function isLinkTargetInside(linkPath: string, target: string): boolean {
  try {
    validateLinkTarget(linkPath, target);
    return true;
  } catch {
    return false;
  }
}
