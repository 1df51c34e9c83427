import { describe, expect, it } from 'vitest';
import {
  getConfigProblems,
  getFieldPath,
  globalFileSchema,
  parseConfigFile,
  projectFileSchema,
} from '../../../src/client/config/schema.js';

const FILE = '/p/.sicksync-config.json';

function getMessages(raw: unknown, schema: typeof projectFileSchema | typeof globalFileSchema = projectFileSchema) {
  const parsed = parseConfigFile(schema, FILE, raw);
  return (parsed.problems ?? []).map((problem) => `${problem.field}: ${problem.message}`);
}

describe('projectFileSchema', () => {
  it('accepts the full example of DESIGN.md', () => {
    const raw = {
      project: 'web',
      destinations: [
        'devbox:~/src/web',
        { hostname: 'gpu-1', username: 'me', port: 2222, destinationLocation: '/data/web', mode: 'bidirectional' },
        '/mnt/efs/web',
      ],
      mode: 'push',
      excludes: ['node_modules/', '*.log'],
      excludesFile: ['.gitignore'],
      rules: [{ pattern: 'results/**', mode: 'pull' }],
      conflictPolicy: 'keep-both',
      deleteGuard: 0.3,
    };
    const parsed = parseConfigFile(projectFileSchema, FILE, raw);
    expect(parsed.problems).toBeUndefined();
    expect(parsed.data).toEqual(raw);
  });

  it('reports every problem at once, each with its dot-path', () => {
    const messages = getMessages({
      destinations: [
        { hostnme: 'devbox', destinationLocation: '/x' },
        { hostname: 'gpu-1', port: 22.5, destinationLocation: '/data' },
        { hostname: 'gpu-2', port: 70000 },
        42,
      ],
      mode: 'sync',
      excludes: 'node_modules/',
      rules: [{ pattern: 'results/**' }],
      conflictPolicy: 'mine',
      deleteGuard: 1.5,
      colour: true,
    });
    expect(messages).toEqual([
      'destinations[0].hostnme: unknown field',
      'destinations[1].port: expected an integer',
      'destinations[2].port: expected at most 65535',
      'destinations[2].destinationLocation: required',
      'destinations[3]: expected a string or an object',
      'mode: expected one of push, pull, bidirectional',
      'excludes: expected a list',
      'rules[0].mode: required',
      'conflictPolicy: expected one of keep-both, newest, local, remote, manual',
      'deleteGuard: expected at most 1',
      'colour: unknown field',
    ]);
  });

  it('says what the whole file should be when it is not an object', () => {
    expect(getMessages(['devbox:~/web'])).toEqual([': expected an object']);
  });

  it('refuses empty strings and negative numbers', () => {
    expect(getMessages({ destinations: [''], deleteGuard: -0.1, excludesFile: [''] })).toEqual([
      'destinations[0]: must not be empty',
      'excludesFile[0]: must not be empty',
      'deleteGuard: expected at least 0',
    ]);
  });

  it('locates problems in the file they came from', () => {
    const parsed = parseConfigFile(projectFileSchema, FILE, { mode: 1 });
    expect(parsed.problems).toEqual([{ file: FILE, field: 'mode', message: 'expected one of push, pull, bidirectional' }]);
  });
});

describe('globalFileSchema', () => {
  it('fills in defaults: no projects, no defaults, projects active', () => {
    expect(parseConfigFile(globalFileSchema, FILE, {}).data).toEqual({ projects: [], defaults: {} });
    const parsed = parseConfigFile(globalFileSchema, FILE, { projects: [{ alias: 'web', path: '/home/me/web' }] });
    expect(parsed.data?.projects).toEqual([{ alias: 'web', path: '/home/me/web', active: true }]);
  });

  it('reports every problem of projects and defaults', () => {
    const messages = getMessages(
      {
        projects: [
          { alias: 'web', path: 'web' },
          { path: '/api', active: 'yes' },
        ],
        defaults: { excludes: ['.DS_Store'], destinations: ['devbox:~/x'], deleteGuard: 'high' },
      },
      globalFileSchema,
    );
    expect(messages).toEqual([
      'projects[0].path: expected an absolute path',
      'projects[1].alias: required',
      'projects[1].active: expected true or false',
      'defaults.deleteGuard: expected a number',
      'defaults.destinations: unknown field',
    ]);
  });
});

describe('getConfigProblems', () => {
  it('tells a missing field from the raw input when zod was not asked to report inputs', () => {
    const raw = { rules: [{ pattern: 'a' }, { pattern: 'b', mode: 'up' }] };
    const result = projectFileSchema.safeParse(raw);
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(getConfigProblems(FILE, result.error, raw)).toEqual([
      { file: FILE, field: 'rules[0].mode', message: 'required' },
      { file: FILE, field: 'rules[1].mode', message: 'expected one of push, pull, bidirectional' },
    ]);
  });

  it("tells a missing field of a plain type from zod's own message without the raw input", () => {
    const result = projectFileSchema.safeParse({ rules: [{ mode: 'push' }] });
    if (result.success) throw new Error('expected a failure');
    expect(getConfigProblems(FILE, result.error)).toEqual([{ file: FILE, field: 'rules[0].pattern', message: 'required' }]);
  });
});

describe('getFieldPath', () => {
  it.each([
    [[], ''],
    [['mode'], 'mode'],
    [['destinations', 1, 'port'], 'destinations[1].port'],
    [['projects', 0], 'projects[0]'],
    [['rules', 2, 'pattern'], 'rules[2].pattern'],
  ])('%j → %s', (keys, expected) => {
    expect(getFieldPath(keys)).toBe(expected);
  });
});
