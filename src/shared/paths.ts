/**
 * Relative paths as they cross the wire, and the rules that keep them inside a root. Everything
 * here is lexical; `src/remote/confine.ts` adds the filesystem checks (symlinked parents).
 */
import { ErrorCode, SicksyncError } from './errors.js';

/** Linux's limit on a path, terminating NUL included: longer ones cannot be opened or deleted by path. */
export const PATH_MAX = 4096;

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
 * Throws unless a symlink at `linkPath` pointing to `target` stays inside the root whatever the
 * rest of the tree holds. Checking the joined text is not enough: in `dot/..` the name `dot` may be
 * (or later become) a symlink to `.`, and then `..` climbs from wherever it leads. So the target
 * must be `..` components first, no more of them than the link's folder is deep, then names only:
 * each name goes down into a real folder or into a link that passed this same check, and the
 * kernel resolves a link's `..` from the folder the link is really in. An absolute target is refused.
 */
export function validateLinkTarget(linkPath: string, target: string): string {
  if (target.length === 0) refuse(linkPath, 'its link target is empty');
  if (target.includes('\0')) refuse(linkPath, 'its link target contains a NUL byte');
  if (target.startsWith('/')) refuse(linkPath, `its link target ${JSON.stringify(target)} is absolute`);
  const depth = linkPath.split('/').length - 1;
  let ups = 0;
  let named = false;
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') {
      named = true;
      continue;
    }
    if (named)
      refuse(linkPath, `its link target ${JSON.stringify(target)} climbs with '..' after a name, which a symlink could lead anywhere`);
    ups += 1;
  }
  if (ups > depth) refuse(linkPath, `its link target ${JSON.stringify(target)} leads outside the root`);
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
