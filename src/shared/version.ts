import { readFileSync } from 'node:fs';

/** Replaced with a string literal when the remote program is bundled (scripts/bundle-remote.js). */
declare const __SICKSYNC_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __SICKSYNC_VERSION__ === 'string') return __SICKSYNC_VERSION__;
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/** The package version. */
export const VERSION = readVersion();
