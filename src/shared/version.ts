import { readFileSync } from 'node:fs';
import { getPackageFile } from './package-root.js';

/** Replaced with a string literal when sicksync is bundled (scripts/bundle.js). */
declare const __SICKSYNC_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __SICKSYNC_VERSION__ === 'string') return __SICKSYNC_VERSION__;
  const manifest = JSON.parse(readFileSync(getPackageFile('package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** The package version. */
export const VERSION = readVersion();
