import { describe, expect, it } from 'vitest';
import { isLocalShorthand, normalizeDestination } from '../../../src/client/config/destination.js';
import type { DestinationInput } from '../../../src/client/config/schema.js';
import { ConfigError } from '../../../src/shared/errors.js';

const ROOT = '/work/projects/web';
const HOME = '/home/me';
const options = { projectRoot: ROOT, defaultMode: 'push' as const, home: HOME };

function getProblems(value: DestinationInput, extra: { file?: string; field?: string } = {}) {
  try {
    normalizeDestination(value, { ...options, ...extra });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('normalizeDestination: shorthand', () => {
  it.each([
    ['devbox:~/src/web', { id: 'devbox:~/src/web', host: { hostname: 'devbox' }, location: '~/src/web' }],
    ['me@gpu-1:/data/web', { id: 'me@gpu-1:/data/web', host: { hostname: 'gpu-1', username: 'me' }, location: '/data/web' }],
    ['devbox:~', { id: 'devbox:~', host: { hostname: 'devbox' }, location: '~' }],
    ['devbox:~/src//web/', { id: 'devbox:~/src/web', host: { hostname: 'devbox' }, location: '~/src/web' }],
    ['devbox:/srv/./web/', { id: 'devbox:/srv/web', host: { hostname: 'devbox' }, location: '/srv/web' }],
    ['devbox:~/../shared', { id: 'devbox:~/../shared', host: { hostname: 'devbox' }, location: '~/../shared' }],
    ['me@[::1]:/srv/web', { id: 'me@[::1]:/srv/web', host: { hostname: '::1', username: 'me' }, location: '/srv/web' }],
    ['/mnt/efs/web', { id: '/mnt/efs/web', location: '/mnt/efs/web' }],
    ['/mnt/efs/web/', { id: '/mnt/efs/web', location: '/mnt/efs/web' }],
    ['~/backup/web', { id: '/home/me/backup/web', location: '/home/me/backup/web' }],
    ['../web-copy', { id: '/work/projects/web-copy', location: '/work/projects/web-copy' }],
    ['/mnt/a:b', { id: '/mnt/a:b', location: '/mnt/a:b' }],
  ])('%s', (value, expected) => {
    const spec = normalizeDestination(value, options);
    expect(spec).toEqual({ ...expected, mode: 'push' });
    expect('host' in spec).toBe('host' in expected);
  });

  it.each([
    ['devbox:~/src/web', false],
    ['me@gpu-1:/data', false],
    ['/abs/path', true],
    ['~/x', true],
    ['./x:y', true],
    ['plain-folder', true],
    ['sub/dir:x', true],
    ['host:sub/dir', false],
  ])('isLocalShorthand(%s) is %s', (value, expected) => {
    expect(isLocalShorthand(value)).toBe(expected);
  });

  it('takes a value with a slash before its first colon as a local path', () => {
    // Relative to the root, so it lands inside the project: refused, and proof it was read as local.
    expect(getProblems('sub/dir:x')[0]?.message).toMatch(/inside the project folder/);
  });

  it.each([
    ['devbox:src/web', /must be absolute or start with ~/],
    ['devbox:', /must be absolute or start with ~/],
    ['devbox:~bob/web', /another user's home/],
    [':/srv/web', /not a valid destination/],
    ['@devbox:/srv/web', /not a valid destination/],
    ['me@[::1/srv:x', /not a valid destination/],
  ])('refuses %s', (value, message) => {
    const problems = getProblems(value, { file: '/p/.sicksyncrc', field: 'destinations[2]' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: '/p/.sicksyncrc', field: 'destinations[2]' });
    expect(problems[0]?.message).toMatch(message);
  });
});

describe('normalizeDestination: long form', () => {
  it('keeps host, user, port and its own mode', () => {
    const spec = normalizeDestination(
      { hostname: 'gpu-1', username: 'me', port: 2222, destinationLocation: '/data/web/', mode: 'bidirectional' },
      options,
    );
    expect(spec).toEqual({
      id: 'me@gpu-1:2222:/data/web',
      host: { hostname: 'gpu-1', username: 'me', port: 2222 },
      location: '/data/web',
      mode: 'bidirectional',
    });
  });

  it('is local without a hostname, resolved against the root', () => {
    const spec = normalizeDestination({ destinationLocation: '../mirror', mode: 'pull' }, options);
    expect(spec).toEqual({ id: '/work/projects/mirror', location: '/work/projects/mirror', mode: 'pull' });
  });

  it('points its problems at the sub-field', () => {
    const problems = getProblems(
      { username: 'me', port: 22, destinationLocation: 'out' },
      { file: '/p/.sicksync-config.json', field: 'destinations[1]' },
    );
    expect(problems.map((problem) => problem.field)).toEqual([
      'destinations[1].username',
      'destinations[1].port',
      'destinations[1].destinationLocation',
    ]);
  });

  it('refuses a relative remote path', () => {
    const problems = getProblems({ hostname: 'devbox', destinationLocation: 'src/web' }, { field: 'destinations[0]' });
    expect(problems).toEqual([
      { file: '', field: 'destinations[0].destinationLocation', message: expect.stringMatching(/absolute or start with ~/) as string },
    ]);
  });
});

describe('normalizeDestination: a folder synced into itself', () => {
  it.each([
    ['.', /is the project folder itself/],
    [ROOT, /is the project folder itself/],
    ['./build', /inside the project folder/],
    [`${ROOT}/out/`, /inside the project folder/],
    ['..', /contains the project folder/],
    ['/', /contains the project folder/],
  ])('refuses %s', (value, message) => {
    expect(getProblems(value)[0]?.message).toMatch(message);
  });

  it('refuses a local ~ when the project lives in home', () => {
    expect(() => normalizeDestination('~', { ...options, projectRoot: '/home/me/web' })).toThrow(/contains the project folder/);
    expect(normalizeDestination('~', options).location).toBe(HOME);
  });

  it('accepts a sibling whose name starts with the root name', () => {
    expect(normalizeDestination('../web-old', options).location).toBe('/work/projects/web-old');
  });
});
