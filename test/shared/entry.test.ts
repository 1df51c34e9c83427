import { describe, expect, it } from 'vitest';
import { getParentPath, hasCoarseMtime, hasSameMtime, isInside, isSameStat, type Entry } from '../../src/shared/entry.js';
import { MTIME, file, symlink } from '../helpers/entries.js';

function withMtime(mtimeNs: bigint | string): Entry {
  return file('f', { mtimeNs, ino: '1' });
}

describe('hasSameMtime', () => {
  it.each([
    [0n, true],
    [1n, true],
    [-1n, true],
    [240n, true], // what utimes() loses when it copies a time as a double of seconds
    [999n, true],
    [-999n, true],
    [1_000n, false],
    [-1_000n, false],
    [1_001n, false],
    [500_000_000n, false],
    [1_000_000_000n, false],
  ])('mtimes %i ns apart → %s', (delta, same) => {
    expect(hasSameMtime(withMtime(MTIME + delta), withMtime(MTIME))).toBe(same);
    expect(hasSameMtime(withMtime(MTIME), withMtime(MTIME + delta))).toBe(same);
  });

  it('compares exactly at real mtimes (~1.7e18 ns), where a Number rounds to multiples of 256 ns', () => {
    // 999 ns apart, but 1024 apart as Numbers.
    const a = withMtime('1700000000123456789');
    const b = withMtime('1700000000123457788');
    expect(Number(b.mtimeNs) - Number(a.mtimeNs)).toBe(1024);
    expect(hasSameMtime(a, b)).toBe(true);
    // 1000 ns apart, but 768 apart as Numbers.
    const c = withMtime('1700000000123456896');
    const d = withMtime('1700000000123457896');
    expect(Number(d.mtimeNs) - Number(c.mtimeNs)).toBe(768);
    expect(hasSameMtime(c, d)).toBe(false);
  });

  it('compares a whole-second time with a nanosecond one', () => {
    expect(hasSameMtime(withMtime('1700000000000000000'), withMtime('1700000000000000500'))).toBe(true);
    expect(hasSameMtime(withMtime('1700000000000000000'), withMtime('1699999999999999000'))).toBe(false);
  });
});

describe('hasCoarseMtime', () => {
  it.each([
    ['1700000000000000000', true],
    ['1000000000', true],
    ['1700000000000000001', false],
    ['1700000000100000000', false],
    ['1700000000000001000', false],
    ['1700000000123456789', false],
    ['999999999', false],
  ])('%s → %s', (mtimeNs, coarse) => {
    expect(hasCoarseMtime(withMtime(mtimeNs))).toBe(coarse);
  });

  it('regression: an mtime of exactly the epoch ("0") is a whole second', () => {
    // Files stamped at the epoch (archives, reproducible builds) report mtimeNs "0", which has no
    // nine trailing zeros; decidePush then trusts two of them of the same size as equal.
    expect(hasCoarseMtime(withMtime('0'))).toBe(true);
  });
});

describe('isSameStat', () => {
  const base = file('a.txt', { size: 10, mode: 0o644, mtimeNs: MTIME, ino: '42' });

  it('is true for an identical stat', () => {
    expect(isSameStat(base, { ...base })).toBe(true);
  });

  it('ignores the path (a moved object keeps its stat)', () => {
    expect(isSameStat(base, { ...base, path: 'elsewhere/b.txt' })).toBe(true);
  });

  it.each<[string, Partial<Entry>]>([
    ['kind', { kind: 'dir' }],
    ['size', { size: 11 }],
    ['mode', { mode: 0o755 }],
    ['mtimeNs, by 1 ns (no tolerance here)', { mtimeNs: String(MTIME + 1n) }],
    ['ino', { ino: '43' }],
  ])('is false when %s differs', (_field, changes) => {
    expect(isSameStat(base, { ...base, ...changes })).toBe(false);
    expect(isSameStat({ ...base, ...changes }, base)).toBe(false);
  });

  it('is false when a symlink target differs', () => {
    const link = symlink('l', 'a', { ino: '7' });
    expect(isSameStat(link, { ...link })).toBe(true);
    expect(isSameStat(link, { ...link, target: 'b' })).toBe(false);
  });
});

describe('getParentPath', () => {
  it.each([
    ['a', ''],
    ['a/b', 'a'],
    ['a/b/c.txt', 'a/b'],
  ])('%j → %j', (path, parent) => {
    expect(getParentPath(path)).toBe(parent);
  });
});

describe('isInside', () => {
  it.each<[string, string, boolean]>([
    ['a/b', 'a', true],
    ['a/b/c', 'a', true],
    ['a/b/c', 'a/b', true],
    ['a', 'a', false],
    ['ab', 'a', false],
    ['ab/c', 'a', false],
    ['a', 'a/b', false],
    ['anything', '', true],
  ])('%j inside %j → %s', (path, folder, inside) => {
    expect(isInside(path, folder)).toBe(inside);
  });
});
