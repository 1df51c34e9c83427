#!/usr/bin/env node
// Bundles the remote side into one file (dist/sicksync-remote.cjs) that the client uploads to hosts
// with Node.js but no sicksync. CommonJS and node18 so that older remote Node versions can run it.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('../src/remote/main.ts', import.meta.url).pathname],
  outfile: new URL('../dist/sicksync-remote.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  // ws loads these native speed-ups only if present; the bundle does without them.
  external: ['bufferutil', 'utf-8-validate'],
  define: { __SICKSYNC_VERSION__: JSON.stringify(version) },
  // version.ts reads package.json through import.meta only when no version was defined here.
  logOverride: { 'empty-import-meta': 'silent' },
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  legalComments: 'none',
});
