#!/usr/bin/env node
// Benchmarks sicksync against rsync on this machine, in the same run, and prints ratios.
// Scenarios: first sync of a fresh tree, a no-change resync, and the time for one edit to reach the
// destination (sicksync live vs. an rsync run started right after the edit).
// Usage: npm run bench [-- --files N --big-mb M]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/sicksync.js', import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const FILES = option('files', 5000);
const BIG_MB = option('big-mb', 100);
const EDITS = option('edits', 20);

function rsyncAvailable() {
  try {
    execFileSync('rsync', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function makeTree(root) {
  mkdirSync(root, { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const dir = join(root, `pkg${i % 50}`, `mod${i % 7}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file${i}.ts`), randomBytes(512 + (i % 16) * 256).toString('base64'));
  }
  const big = Buffer.alloc(1024 * 1024);
  const fd = join(root, 'assets.bin');
  writeFileSync(fd, '');
  for (let i = 0; i < BIG_MB; i++) writeFileSync(fd, randomBytes(big.length), { flag: 'a' });
}

function time(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function sicksyncOnce(cwd, env) {
  execFileSync(process.execPath, [BIN, '--once'], { cwd, env, stdio: 'ignore' });
}

function rsyncOnce(src, dst) {
  execFileSync('rsync', ['-a', '--delete', `${src}/`, `${dst}/`], { stdio: 'ignore' });
}

async function waitForContent(file, content, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting for ${file}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function measureLive(work, src, env) {
  const dest = join(work, 'live-dest');
  writeFileSync(join(src, '.sicksync-config.json'), JSON.stringify({ destinations: [dest] }));
  const child = spawn(process.execPath, [BIN], { cwd: src, env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('watching for changes')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`sicksync exited with ${code}`)));
  });
  const samples = [];
  for (let i = 0; i < EDITS; i++) {
    const content = `edit ${i} ${randomBytes(8).toString('hex')}\n`;
    const target = join(src, 'pkg1', 'mod1', `file1.ts`);
    const start = process.hrtime.bigint();
    writeFileSync(target, content);
    await waitForContent(join(dest, 'pkg1', 'mod1', 'file1.ts'), content);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGINT');
  await new Promise((resolve) => child.once('exit', resolve));
  return median(samples);
}

async function main() {
  if (!rsyncAvailable()) {
    console.error('rsync is not installed; the benchmark compares against it (apt-get install rsync).');
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), 'sicksync-bench-'));
  const home = join(work, 'home');
  mkdirSync(home);
  const env = { ...process.env, HOME: home, SICKSYNC_DAEMON_GRACE_MS: '2000', FORCE_COLOR: '0' };
  try {
    const src = join(work, 'src');
    console.log(`tree: ${FILES} small files + one ${BIG_MB} MB file`);
    makeTree(src);
    const ssDest = join(work, 'sicksync-dest');
    const rsDest = join(work, 'rsync-dest');
    writeFileSync(join(src, '.sicksync-config.json'), JSON.stringify({ destinations: [ssDest] }));

    const rows = [];
    const ssFirst = time(() => sicksyncOnce(src, env));
    const rsFirst = time(() => rsyncOnce(src, rsDest));
    rows.push(['first sync', ssFirst, rsFirst]);
    const ssNoop = median([0, 1, 2].map(() => time(() => sicksyncOnce(src, env))));
    const rsNoop = median([0, 1, 2].map(() => time(() => rsyncOnce(src, rsDest))));
    rows.push(['no-change resync', ssNoop, rsNoop]);

    const ssLive = await measureLive(work, src, env);
    const rsEdit = median(
      Array.from({ length: 5 }, (_, i) => {
        writeFileSync(join(src, 'pkg1', 'mod1', 'file1.ts'), `rsync edit ${i}\n`);
        return time(() => rsyncOnce(src, rsDest));
      }),
    );
    rows.push(['one edit reaches the destination', ssLive, rsEdit]);

    console.log('\nscenario                              sicksync ms    rsync ms   sicksync/rsync');
    for (const [name, ss, rs] of rows) {
      console.log(`${name.padEnd(36)} ${ss.toFixed(1).padStart(12)} ${rs.toFixed(1).padStart(11)} ${(ss / rs).toFixed(2).padStart(16)}`);
    }
    console.log('\n(a ratio below 1 means sicksync was faster; the live figure is the median of', EDITS, 'edits)');
  } finally {
    execFileSync(process.execPath, [BIN, 'remote', 'stop'], { env, stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
