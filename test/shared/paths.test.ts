import { describe, expect, it } from 'vitest';
import { ErrorCode, SicksyncError } from '../../src/shared/errors.js';
import { isLinkTargetInside, validateLinkTarget, validateRelativePath } from '../../src/shared/paths.js';

function expectRefused(run: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SicksyncError);
  expect((caught as SicksyncError).code).toBe(ErrorCode.PATH_OUTSIDE_ROOT);
  expect((caught as SicksyncError).code).toBe('SICKSYNC_E_PATH_OUTSIDE_ROOT');
  expect((caught as SicksyncError).message).toMatch(message);
}

describe('validateRelativePath', () => {
  it.each([
    ['..', /climbs out of the root with '\.\.'/],
    ['../etc/passwd', /climbs out of the root/],
    ['a/../..', /climbs out of the root/],
    ['a/..', /climbs out of the root/],
    ['a/b/../../../c', /climbs out of the root/],
    ['/etc/passwd', /it is absolute/],
    ['/', /it is absolute/],
    ['', /it is empty/],
    ['./a', /it is not normalized/],
    ['a/./b', /it is not normalized/],
    ['.', /it is not normalized/],
    ['a//b', /it is not normalized/],
    ['a/', /it is not normalized/],
    ['a\0b', /NUL byte/],
    ['a\0/../../etc', /NUL byte/],
    ['a\\b', /backslash/],
    ['..\\..\\windows', /backslash/],
  ])('refuses %j', (path, message) => {
    expectRefused(() => validateRelativePath(path), message);
  });

  it('names the refused path in the message', () => {
    expectRefused(() => validateRelativePath('a/../..'), /^refused path "a\/\.\.\/\.\.": /);
  });

  it.each([
    'a',
    'a/b/c/d.txt',
    'src/components/Button.tsx',
    'my notes/draft 1.txt',
    ' leading and trailing space ',
    'ünïcödé/日本語/😀.md',
    '.env',
    '.config/app/.secret',
    '..foo',
    'a/..foo/...',
    'foo..',
    '...',
    'a.sicksync-tmp-1',
    '-rf',
    'x'.repeat(255),
  ])('accepts %j and returns it unchanged', (path) => {
    expect(validateRelativePath(path)).toBe(path);
  });
});

describe('validateLinkTarget', () => {
  it.each([
    ['link', '/etc/passwd', /link target "\/etc\/passwd" is absolute/],
    ['a/b/link', '/', /is absolute/],
    ['link', '..', /leads outside the root/],
    ['link', '../sibling', /leads outside the root/],
    ['a/link', '../../x', /leads outside the root/],
    ['a/b/link', '../../../etc/passwd', /leads outside the root/],
    ['a/link', 'b/../../../x', /climbs with '\.\.' after a name/],
    ['a/link', './../..', /leads outside the root/],
    // Defect 5 of the hardening issue: `dot` may be a symlink to `.`, so `dot/..` is the root's parent.
    ['up', 'dot/..', /climbs with '\.\.' after a name/],
    ['link', 'a/b/../c', /climbs with '\.\.' after a name/],
    ['a/link', 'x/../../y', /climbs with '\.\.' after a name/],
    ['a/b/link', './c/../d', /climbs with '\.\.' after a name/],
    ['link', '', /link target is empty/],
  ])('refuses %s → %s', (linkPath, target, message) => {
    expectRefused(() => validateLinkTarget(linkPath, target), message);
    expect(isLinkTargetInside(linkPath, target)).toBe(false);
  });

  it('names the link, not the target, as the refused path', () => {
    expectRefused(() => validateLinkTarget('a/link', '../../x'), /^refused path "a\/link": its link target "\.\.\/\.\.\/x"/);
  });

  it.each([
    ['a/link', '../sibling'],
    ['a/b/link', '../../top.txt'],
    ['a/link', '..'],
    ['link', 'target.txt'],
    ['link', '.'],
    ['link', '..foo'],
    ['a/b/link', '../../c/d/e'],
    ['a/b/link', './../c'],
  ])('accepts %s → %s and returns the target unchanged', (linkPath, target) => {
    expect(validateLinkTarget(linkPath, target)).toBe(target);
    expect(isLinkTargetInside(linkPath, target)).toBe(true);
  });
});
