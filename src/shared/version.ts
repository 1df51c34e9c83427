import { readFileSync } from 'node:fs';

/** The package version, read once; the bundled remote program has it injected at build time. */
function readVersion(): string {
  const injected = (globalThis as { SICKSYNC_VERSION?: string }).SICKSYNC_VERSION;
  if (injected) return injected;
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

export const VERSION = readVersion();
