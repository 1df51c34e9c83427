#!/usr/bin/env node
// Thin entry: everything lives in the compiled code. `remote ...` (what the daemon and its bootstrap
// run) takes a short path that skips loading the CLI's libraries: it starts in a fraction of the time.
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const wantsHelp = args.includes('--help') || args.includes('-h');
const entry =
  args[0] === 'remote' && !wantsHelp
    ? import('../dist/remote/main.js').then(({ runRemoteEntry }) => runRemoteEntry(args, fileURLToPath(import.meta.url)))
    : import('../dist/client/cli/main.js').then(({ main }) => main(args));

void entry.then((code) => {
  process.exitCode = code;
});
