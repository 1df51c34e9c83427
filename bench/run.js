#!/usr/bin/env node
// The yardstick: sicksync against `rsync -a` in the same run, over a private sshd on loopback
// (and to a local folder), on fixtures made for the run. Prints one table of medians, ranges and
// ratios, and writes the same as JSON.
//
// Usage: npm run bench [-- --quick] [--runs N] [--only name,name] [--dir PATH] [--json FILE] [--big-mb M]
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prepareClient, SSHD, startHost } from './lib/sshd.js';
import { formatBytes, formatMs } from './lib/stats.js';
import { SCENARIOS, createContext } from './lib/scenarios.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    dir: { type: 'string' },
    json: { type: 'string', default: join(HERE, 'results', 'latest.json') },
    'big-mb': { type: 'string' },
  },
});

function requireTool(name, hint) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  } catch {
    console.error(`${name} is not installed; the benchmark needs it (${hint}).`);
    process.exit(1);
  }
}

function printTable(results) {
  const header = ['scenario', 'sicksync (median, min-max)', 'rsync (median, min-max)', 'ratio'];
  const rows = results.map((row) => [
    row.title,
    describe(row.sicksync, row.unit),
    row.rsync ? describe(row.rsync, row.unit) : '',
    row.ratio === undefined ? '' : `${row.ratio.toFixed(2)}x`,
  ]);
  const widths = header.map((_, column) => Math.max(header[column].length, ...rows.map((row) => row[column].length)));
  const line = (cells) => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ');
  console.log(`\n${line(header)}\n${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  for (const row of rows) console.log(line(row));
  const notes = results.filter((row) => row.note).map((row) => `  ${row.title}: ${row.note}`);
  if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
  console.log('\n(ratio = sicksync / rsync of the medians; below 1 means sicksync took less)');
}

function describe(summary, unit = 'ms') {
  const format = unit === 'bytes' ? formatBytes : formatMs;
  if (summary.runs === 1) return format(summary.median);
  return `${format(summary.median)} (${format(summary.min)}-${format(summary.max)})`;
}

async function main() {
  requireTool('rsync', 'apt-get install rsync');
  if (!SSHD) {
    console.error('sshd is not installed; the benchmark runs its own on loopback (apt-get install openssh-server).');
    process.exit(1);
  }
  const base = flags.dir ?? (existsSync('/dev/shm') ? '/dev/shm' : undefined);
  const work = mkdtempSync(join(base ?? '/tmp', 'sicksync-bench-'));
  const clientHome = join(work, 'client-home');
  mkdirSync(clientHome);
  const client = prepareClient(clientHome);
  const hosts = [];
  const stopAll = async () => {
    for (const host of hosts) await host.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    for (let i = 0; i < 3; i++) {
      hosts.push(
        await startHost({
          root: join(work, `host${i + 1}`),
          index: 200 + i,
          alias: `bench${i + 1}`,
          client,
          // The daemon leaves soon after its last client, so every run starts it afresh.
          env: {},
        }),
      );
    }
    const context = createContext({ work, clientHome, client, hosts, quick: flags.quick, runs: flags.runs, bigMb: flags['big-mb'] });
    const only = flags.only ? new Set(flags.only.split(',')) : null;
    console.log(
      `sicksync benchmark: node ${process.version}, ${cpus().length} cores, ${execFileSync('rsync', ['--version']).toString().split('\n')[0]}`,
    );
    console.log(`fixtures in ${base ?? 'the temp folder'}${flags.quick ? ' (quick: smaller fixtures, one run each)' : ''}\n`);
    const results = [];
    for (const scenario of SCENARIOS) {
      if (only && !only.has(scenario.name)) continue;
      process.stdout.write(`${scenario.name}: ${scenario.describe(context)} ... `);
      const started = Date.now();
      try {
        const rows = await scenario.run(context);
        results.push(...rows);
        console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } catch (error) {
        console.log('failed');
        console.error(`  ${error instanceof Error ? error.message : String(error)}`);
        results.push({ name: scenario.name, title: scenario.name, error: String(error), sicksync: { median: NaN, runs: 0 } });
      }
    }
    printTable(results);
    const report = {
      date: new Date().toISOString(),
      node: process.version,
      cores: cpus().length,
      rsync: execFileSync('rsync', ['--version']).toString().split('\n')[0],
      quick: flags.quick,
      results,
    };
    mkdirSync(dirname(flags.json), { recursive: true });
    writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nJSON: ${flags.json}`);
    if (results.some((row) => row.error)) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

await main();
