#!/usr/bin/env node
// Thin entry: everything lives in the compiled client. Kept as plain JS so it runs without a build step of its own.
import { main } from '../dist/client/cli/main.js';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
