// Type-checked linting (typescript-eslint), so promise and type mistakes are caught before review.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'bench/*.js', 'bench/lib/*.js', 'scripts/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  // Layer boundaries (one no-restricted-imports per file set: a later one would replace it).
  {
    // The client never loads the remote program: what both need lives in src/shared.
    files: ['src/client/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/remote/*', '**/remote/**'], message: 'src/client may not import src/remote; move what both need to src/shared.' },
          ],
        },
      ],
    },
  },
  {
    // The remote program (uploaded as a bundle) takes no presentation or SSH libraries along.
    files: ['src/remote/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['chalk', 'yargs', 'ssh2'],
          patterns: [{ group: ['**/client/**'], message: 'src/remote may not import src/client.' }],
        },
      ],
    },
  },
  {
    files: ['src/shared/**'],
    ignores: ['src/shared/plan/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['chalk', 'yargs', 'ssh2'],
          patterns: [{ group: ['**/client/**', '**/remote/**'], message: 'src/shared depends on nothing above it.' }],
        },
      ],
    },
  },
  {
    // The planner is pure: snapshots in, operations out. No I/O, so every case is a table row.
    files: ['src/shared/plan/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['ws', 'ssh2', 'chokidar', 'chalk', 'yargs'],
          patterns: [
            { group: ['node:*', 'fs', 'net', 'child_process', 'os'], message: 'src/shared/plan is pure: no I/O.' },
            {
              group: ['**/client/**', '**/remote/**', '../socket-io*', '../scan*', '../stat-entry*', '../hash*'],
              message: 'src/shared/plan is pure: no I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript entry points and scripts: checked for mistakes, not for types they do not have.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['test/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
);
