#!/usr/bin/env node
// Bundles sicksync with esbuild, after tsc has type-checked it:
// - dist/bundle/: the client and the local daemon (bin/sicksync.js loads them), ESM split in
//   chunks so each command loads only what it uses. One file per command instead of ~150 modules
//   and their packages: a --once run of a small project went from 0.56 s to 0.31 s.
// - dist/sicksync-remote.cjs: the remote side in one file, which the client uploads to hosts with
//   Node.js but no sicksync. CommonJS and node18 so that older remote Node versions can run it.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const at = (path) => new URL(path, import.meta.url).pathname;
const { version } = JSON.parse(readFileSync(at('../package.json'), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  // ws loads these native speed-ups only if present; the bundle does without them.
  external: ['bufferutil', 'utf-8-validate'],
  define: { __SICKSYNC_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
  legalComments: 'none',
};

rmSync(at('../dist'), { recursive: true, force: true });

await build({
  ...common,
  entryPoints: { cli: at('../src/client/cli/main.ts'), remote: at('../src/remote/main.ts') },
  outdir: at('../dist/bundle'),
  format: 'esm',
  splitting: true,
  target: 'node20',
  // ssh2 stays a package of its own: it loads optional native code (cpu-features) by require.
  // typescript is what cosmiconfig would load for a .ts config file, which sicksync does not read.
  external: [...common.external, 'ssh2', 'typescript'],
  // The CommonJS packages bundled in (ws, yargs' parts) call require for Node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: true,
});

await build({
  ...common,
  entryPoints: [at('../src/remote/main.ts')],
  outfile: at('../dist/sicksync-remote.cjs'),
  format: 'cjs',
  target: 'node18',
  // package-root.ts reads import.meta only when no version was defined, which this build does.
  logOverride: { 'empty-import-meta': 'silent' },
  minifyWhitespace: true,
  minifySyntax: true,
});
