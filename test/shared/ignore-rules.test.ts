import { describe, expect, it } from 'vitest';
import ignore from 'ignore';
import { BUILTIN_EXCLUDES, createIgnoreRules, getPatternsFromText, isBuiltinExcluded } from '../../src/shared/ignore-rules.js';

type Check = [path: string, isDir: boolean, ignored: boolean];

function expectChecks(patterns: string[], checks: Check[]): void {
  const rules = createIgnoreRules(patterns);
  const actual = checks.map(([path, isDir]) => [path, isDir, rules.isIgnored(path, isDir)]);
  expect(actual).toEqual(checks);
}

describe('createIgnoreRules (gitignore semantics)', () => {
  it('`node_modules/` matches folders of that name at any depth and everything below them', () => {
    expectChecks(
      ['node_modules/'],
      [
        ['node_modules', true, true],
        ['node_modules/react/index.js', false, true],
        ['node_modules/.bin', true, true],
        ['packages/app/node_modules', true, true],
        ['packages/app/node_modules/lodash/package.json', false, true],
        ['src/index.js', false, false],
        ['node_modules_backup', true, false],
        ['my_node_modules', true, false],
      ],
    );
  });

  it('`node_modules/` does not match a file named node_modules', () => {
    expectChecks(
      ['node_modules/'],
      [
        ['node_modules', false, false],
        ['docs/node_modules', false, false],
      ],
    );
  });

  it('`*.log` matches at any depth, files and folders, but not other extensions', () => {
    expectChecks(
      ['*.log'],
      [
        ['debug.log', false, true],
        ['logs/server/today.log', false, true],
        ['weird.log', true, true],
        ['debug.log.txt', false, false],
        ['debug.logs', false, false],
        ['log', false, false],
        ['.log', false, true],
      ],
    );
  });

  it('anchored `/build` matches only at the root, and what is below it', () => {
    expectChecks(
      ['/build'],
      [
        ['build', true, true],
        ['build', false, true],
        ['build/out.js', false, true],
        ['src/build', true, false],
        ['src/build/out.js', false, false],
        ['builds', true, false],
      ],
    );
  });

  it('unanchored `build/` matches at any depth', () => {
    expectChecks(
      ['build/'],
      [
        ['build', true, true],
        ['src/build', true, true],
        ['src/build/out.js', false, true],
      ],
    );
  });

  it('negation `!keep.log` re-includes a file an earlier pattern excluded', () => {
    expectChecks(
      ['*.log', '!keep.log'],
      [
        ['keep.log', false, false],
        ['sub/keep.log', false, false],
        ['other.log', false, true],
        ['sub/other.log', false, true],
      ],
    );
  });

  it('a negation before the pattern it should override has no effect (last match wins)', () => {
    expectChecks(['!keep.log', '*.log'], [['keep.log', false, true]]);
  });

  it('a file inside an excluded folder cannot be re-included (git does not look inside it)', () => {
    expectChecks(
      ['logs/', '!logs/keep.log'],
      [
        ['logs', true, true],
        ['logs/keep.log', false, true],
      ],
    );
  });

  it('`**` patterns', () => {
    expectChecks(
      ['results/**/*.csv', '**/tmp'],
      [
        ['results/a.csv', false, true],
        ['results/x/y/b.csv', false, true],
        ['other/results/a.csv', false, false],
        ['tmp', true, true],
        ['a/b/tmp', true, true],
        ['a/b/tmp/file', false, true],
      ],
    );
  });

  it('comments and blank lines are not patterns', () => {
    expectChecks(
      ['# node_modules', '', '   ', '\\#literal'],
      [
        ['# node_modules', false, false],
        ['node_modules', true, false],
        ['#literal', false, true],
      ],
    );
  });

  it('never ignores the root itself', () => {
    expect(createIgnoreRules(['*', '**']).isIgnored('', true)).toBe(false);
  });

  it('no patterns: ordinary paths are not ignored', () => {
    expectChecks(
      [],
      [
        ['src/index.ts', false, false],
        ['.env', false, false],
        ['.git', true, false],
      ],
    );
  });
});

describe('built-in excludes', () => {
  it('hands only the configured patterns to the other side, which applies the same built-ins itself', () => {
    expect(BUILTIN_EXCLUDES).toEqual(['*.sicksync-tmp-*', '/.sicksync/']);
    expect(createIgnoreRules(['*.log']).patterns).toEqual(['*.log']);
  });

  it('ignores our temporary files at any depth, whatever the config', () => {
    expectChecks(
      [],
      [
        ['.report.pdf.sicksync-tmp-a1b2c3', false, true],
        ['deep/er/.main.ts.sicksync-tmp-0', false, true],
        ['x.sicksync-tmp-', false, true],
        ['sicksync-tmp-notes.txt', false, false],
        ['notes.sicksync-tmp', false, false],
      ],
    );
  });

  it('are matched by hand exactly as `ignore` matches BUILTIN_EXCLUDES', () => {
    const reference = ignore({ allowRelativePaths: false }).add(BUILTIN_EXCLUDES);
    const names = [
      '.sicksync',
      'sicksync',
      '.sicksync-config.json',
      'a.sicksync-tmp-1',
      '.sicksync-tmp-',
      'x.sicksync-tmp',
      'src',
      'f.txt',
    ];
    const paths = [...names, ...names.flatMap((first) => names.map((second) => `${first}/${second}`)), 'a/b/.c.sicksync-tmp-9/d'];
    for (const path of paths) {
      for (const isDir of [false, true]) {
        expect(isBuiltinExcluded(path, isDir), `${path}${isDir ? '/' : ''}`).toBe(reference.ignores(isDir ? `${path}/` : path));
      }
    }
  });

  it('ignores the state folder at the root only', () => {
    expectChecks(
      [],
      [
        ['.sicksync', true, true],
        ['.sicksync/baseline.json', false, true],
        ['.sicksync', false, false],
        ['sub/.sicksync', true, false],
        ['.sicksync-config.json', false, false],
      ],
    );
  });

  it('a user pattern that matches nothing of ours leaves the built-ins alone', () => {
    expectChecks(
      ['!*.log', '!keep/'],
      [
        ['.a.log.sicksync-tmp-1', false, true],
        ['.sicksync', true, true],
      ],
    );
  });

  it('hold whatever the config says: a whitelist (`*`, `!src/`, `!src/**`) does not re-include temporary files', () => {
    // BUILTIN_EXCLUDES: "Never synced, whatever the config says". A whitelist is a common gitignore idiom.
    expectChecks(
      ['*', '!src/', '!src/**'],
      [
        ['src/main.ts', false, false],
        ['README.md', false, true],
        ['src/.main.ts.sicksync-tmp-a1b2', false, true],
      ],
    );
  });

  it('hold whatever the config says: a whitelist of folders (`*`, `!*/`, `!*.py`) does not re-include the state folder', () => {
    expectChecks(
      ['*', '!*/', '!*.py'],
      [
        ['app.py', false, false],
        ['src', true, false],
        ['notes.txt', false, true],
        ['.sicksync', true, true],
      ],
    );
  });
});

describe('getPatternsFromText', () => {
  it('splits LF and CRLF lines', () => {
    expect(getPatternsFromText('node_modules/\r\n*.log\n# comment\n\n!keep.log')).toEqual([
      'node_modules/',
      '*.log',
      '# comment',
      '',
      '!keep.log',
    ]);
  });

  it('patterns read from a CRLF .gitignore match like LF ones', () => {
    const rules = createIgnoreRules(getPatternsFromText('dist/\r\n*.log\r\n'));
    expect(rules.isIgnored('dist', true)).toBe(true);
    expect(rules.isIgnored('a.log', false)).toBe(true);
    expect(rules.isIgnored('a.txt', false)).toBe(false);
  });
});
