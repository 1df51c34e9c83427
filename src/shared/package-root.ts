/**
 * Where sicksync's own files are (package.json, bin/, dist/): found from this module's location by
 * walking up to the package.json named sicksync, so it holds wherever the module sits, compiled
 * into a bundle chunk, or run from source by the tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function getPackageRoot(): string {
  if (root !== undefined) return root;
  for (let folder = dirname(fileURLToPath(import.meta.url)); ; folder = dirname(folder)) {
    const manifest = join(folder, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sicksync') {
      root = folder;
      return root;
    }
    if (dirname(folder) === folder) throw new Error(`sicksync's package.json not found above ${fileURLToPath(import.meta.url)}`);
  }
}

/** A file of the package, by its path from the package's top folder. */
export function getPackageFile(...parts: string[]): string {
  return join(getPackageRoot(), ...parts);
}
