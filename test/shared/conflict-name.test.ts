import { describe, expect, it } from 'vitest';
import { getConflictPath } from '../../src/shared/conflict-name.js';

const DATE = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
const STAMP = '20240102-030405';

describe('getConflictPath', () => {
  it.each([
    ['notes.txt', `notes.sicksync-conflict-${STAMP}-devbox.txt`],
    ['Makefile', `Makefile.sicksync-conflict-${STAMP}-devbox`],
    ['.env', `.env.sicksync-conflict-${STAMP}-devbox`],
    ['.eslintrc.json', `.eslintrc.sicksync-conflict-${STAMP}-devbox.json`],
    ['archive.tar.gz', `archive.tar.sicksync-conflict-${STAMP}-devbox.gz`],
    ['src/app/main.ts', `src/app/main.sicksync-conflict-${STAMP}-devbox.ts`],
    ['src/.env', `src/.env.sicksync-conflict-${STAMP}-devbox`],
    ['v1.2/README', `v1.2/README.sicksync-conflict-${STAMP}-devbox`],
    ['my notes/draft 1.md', `my notes/draft 1.sicksync-conflict-${STAMP}-devbox.md`],
    ['trailing.', `trailing.sicksync-conflict-${STAMP}-devbox.`],
  ])('%s → %s', (path, expected) => {
    expect(getConflictPath(path, 'devbox', DATE)).toBe(expected);
  });

  it('stamps the time in UTC, zero-padded', () => {
    const date = new Date(Date.UTC(2025, 11, 31, 23, 59, 58));
    expect(getConflictPath('a.txt', 'h', date)).toBe('a.sicksync-conflict-20251231-235958-h.txt');
  });

  it('stamps UTC whatever the local time zone', () => {
    const before = process.env.TZ;
    process.env.TZ = 'Asia/Kolkata'; // UTC+05:30: moves both the hour and the minute
    try {
      expect(getConflictPath('a.txt', 'h', DATE)).toBe(`a.sicksync-conflict-${STAMP}-h.txt`);
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it.each([
    ['gpu-1.example.com', 'gpu-1_example_com'],
    ['my host', 'my_host'],
    ['../../etc', '______etc'],
    ['a/b\\c', 'a_b_c'],
    ['hôte', 'h_te'],
    ['under_score-dash', 'under_score-dash'],
  ])('sanitises the host %j to %j so it cannot add folders or extensions', (host, safe) => {
    const path = getConflictPath('dir/f.txt', host, DATE);
    expect(path).toBe(`dir/f.sicksync-conflict-${STAMP}-${safe}.txt`);
    expect(path.split('/')).toHaveLength(2);
  });
});
