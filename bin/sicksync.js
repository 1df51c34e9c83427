#!/usr/bin/env node
// Thin entry: everything lives in the bundle (scripts/bundle.js). `remote ...` (what the daemon and
// its bootstrap run) takes a short path that skips loading the CLI's libraries.
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const wantsHelp = args.includes('--help') || args.includes('-h');
const entry =
  args[0] === 'remote' && !wantsHelp
    ? import('../dist/bundle/remote.js').then(({ runRemoteEntry }) => runRemoteEntry(args, fileURLToPath(import.meta.url)))
    : import('../dist/bundle/cli.js').then(({ main }) => main(args));

void entry.then((code) => {
  process.exitCode = code;
});
