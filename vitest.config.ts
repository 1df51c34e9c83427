import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['test/helpers/fail-on-warning.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
