// The benchmark's scenarios. Each runs sicksync and rsync on the same fixture, in the same run, and
// returns rows: medians with ranges, the ratio of the medians, and the peak memory seen.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { changeMiddle, makeBigFile, makeCodeTree } from './fixtures.js';
import { PeakWatch, readLoopbackBytes, readResidentBytes, run } from './processes.js';
import { percentile, summarize } from './stats.js';

const BIN = fileURLToPath(new URL('../../bin/sicksync.js', import.meta.url));
const MB = 1024 * 1024;

export function createContext({ work, clientHome, client, hosts, quick, runs, bigMb }) {
  const sizes = quick
    ? { code: 1000, small: 2000, many: 10_000, bigMb: 64, runs: 1, edits: 10, switch: 200 }
    : { code: 10_000, small: 20_000, many: 100_000, bigMb: 1024, runs: 3, edits: 40, switch: 1000 };
  if (runs) sizes.runs = Number(runs);
  if (bigMb) sizes.bigMb = Number(bigMb);
  // The client tells the daemons it starts how long to wait after their last client: briefly, so
  // that every run starts afresh, as a first run on a host does.
  const env = { ...process.env, HOME: clientHome, NO_COLOR: '1', FORCE_COLOR: '0', SICKSYNC_DAEMON_GRACE_MS: '300' };
  const ssh = `ssh -F ${client.config} -o BatchMode=yes`;
  const fixtures = new Map();
  return {
    work,
    clientHome,
    client,
    hosts,
    sizes,
    env,
    ssh,
    /** A fixture folder, made on first use. */
    fixture(name, make) {
      if (!fixtures.has(name)) {
        const root = join(work, 'fixtures', name);
        mkdirSync(root, { recursive: true });
        fixtures.set(name, { root, ...make(root) });
      }
      return fixtures.get(name);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Running the two programs

function daemonPid(home) {
  try {
    return Number(readFileSync(join(home, '.sicksync', 'daemon.pid'), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for every daemon of the run to have left, so the next run starts one afresh. */
async function waitForNoDaemon(context) {
  const homes = [context.clientHome, ...context.hosts.map((host) => host.home)];
  for (let i = 0; i < 300; i++) {
    if (homes.every((home) => !isAlive(daemonPid(home)))) return;
    await sleep(50);
  }
  throw new Error('a sicksync daemon did not leave after its last client');
}

function daemonHomes(context, destinations) {
  return destinations.map((destination) => {
    const host = context.hosts.find((candidate) => destination.startsWith(`${candidate.alias}:`));
    return host ? host.home : context.clientHome;
  });
}

/** Points the project at `destinations`; an unchanged file is left alone, so "nothing changed" holds. */
function configure(root, destinations) {
  const file = join(root, '.sicksync-config.json');
  const content = `${JSON.stringify({ destinations })}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  writeFileSync(file, content);
}

/**
 * `sicksync --once` in `root`; peak memory of the client and of every daemon it talks to. `fresh`:
 * as a first run, with no record of earlier syncs; otherwise as a second run.
 */
async function sicksyncOnce(context, root, destinations, { fresh = true } = {}) {
  configure(root, destinations);
  if (fresh) rmSync(join(context.clientHome, '.sicksync', 'baselines'), { recursive: true, force: true });
  const homes = daemonHomes(context, destinations);
  let clientPid = null;
  const peaks = new PeakWatch(() => ({
    client: clientPid,
    ...Object.fromEntries(homes.map((home, i) => [`daemon${i}`, daemonPid(home)])),
  }));
  try {
    const before = readLoopbackBytes();
    const { ms } = await run(process.execPath, [BIN, '--once'], {
      cwd: root,
      env: context.env,
      onSpawn: (child) => (clientPid = child.pid),
    });
    return { ms, bytes: readLoopbackBytes() - before, memory: combinePeaks(peaks.stop()) };
  } finally {
    peaks.stop();
    await waitForNoDaemon(context);
  }
}

function combinePeaks(peaks) {
  const daemons = Object.entries(peaks).filter(([name]) => name.startsWith('daemon'));
  return { client: peaks.client ?? null, daemon: daemons.length > 0 ? Math.max(...daemons.map(([, bytes]) => bytes)) : null };
}

function rsync(context, source, target, extra = []) {
  return run('rsync', ['-a', '--delete', '-e', context.ssh, ...extra, `${source}/`, `${target}/`]);
}

/** A live client in `root`, ready once it says it is watching. */
async function startLive(context, root, destinations) {
  configure(root, destinations);
  const child = spawn(process.execPath, [BIN], { cwd: root, env: context.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk) => (output += chunk);
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  await new Promise((resolve, reject) => {
    const check = () => output.includes('watching for changes') && (clearInterval(timer), resolve());
    const timer = setInterval(check, 20);
    child.once('exit', (code) => (clearInterval(timer), reject(new Error(`sicksync exited with ${code}:\n${output}`))));
  });
  return {
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
      await waitForNoDaemon(context);
    },
  };
}

/** Resolves once every path holds `content`: woken by inotify on their folders, with a poll behind it. */
function waitForContent(paths, content, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const pending = new Set(paths);
    const watchers = [];
    const check = () => {
      for (const path of pending) {
        try {
          if (readFileSync(path).equals(content)) pending.delete(path);
        } catch {
          // Not there yet.
        }
      }
      if (pending.size === 0) finish(null);
    };
    const poll = setInterval(check, 5);
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${[...pending][0]}`)), timeoutMs);
    const finish = (error) => {
      clearInterval(poll);
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
      if (error) reject(error);
      else resolve(process.hrtime.bigint());
    };
    for (const folder of new Set(paths.map((path) => join(path, '..')))) {
      try {
        watchers.push(watch(folder, check));
      } catch {
        // The folder may not exist yet; the poll covers it.
      }
    }
    check();
  });
}

/** Waits until each path holds its own content; polled, since a thousand watchers would cost more than they save. */
async function waitForAll(expected, timeoutMs = 60_000) {
  const pending = new Map(expected);
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0) {
    for (const [path, content] of pending) {
      try {
        if (readFileSync(path).equals(content)) pending.delete(path);
      } catch {
        // Not there yet.
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) throw new Error(`${pending.size} files did not arrive, ${[...pending.keys()][0]} among them`);
    await sleep(10);
  }
  return process.hrtime.bigint();
}

function ratio(sicksync, rsync) {
  return sicksync.median / rsync.median;
}

function row(name, title, sicksyncValues, rsyncValues, extra = {}) {
  const sicksync = summarize(sicksyncValues);
  const rsyncSummary = rsyncValues ? summarize(rsyncValues) : undefined;
  return {
    name,
    title,
    unit: 'ms',
    sicksync,
    ...(rsyncSummary ? { rsync: rsyncSummary, ratio: ratio(sicksync, rsyncSummary) } : {}),
    ...extra,
  };
}

function maxMemory(samples) {
  const pick = (key) => {
    const values = samples.map((sample) => sample[key]).filter((value) => value !== null);
    return values.length > 0 ? Math.max(...values) : null;
  };
  return { client: pick('client'), daemon: pick('daemon') };
}

function memoryNote(memory) {
  const part = (label, bytes) => (bytes === null ? null : `${label} ${(bytes / MB).toFixed(0)} MB`);
  return [part('client', memory.client), part('daemon', memory.daemon)].filter(Boolean).join(', ');
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const codeTree = (context) =>
  context.fixture('code', (root) => makeCodeTree(root, { files: context.sizes.code, minBytes: 1024, maxBytes: 20 * 1024, perFolder: 20 }));
const smallTree = (context) =>
  context.fixture('small', (root) => makeCodeTree(root, { files: context.sizes.small, minBytes: 64, maxBytes: 1024, perFolder: 20 }));
const manyTree = (context) =>
  context.fixture('many', (root) => makeCodeTree(root, { files: context.sizes.many, minBytes: 64, maxBytes: 1024, perFolder: 50 }));
const bigFile = (context) =>
  context.fixture('big', (root) => {
    makeBigFile(join(root, 'data.bin'), context.sizes.bigMb);
    return { file: join(root, 'data.bin') };
  });

/** A fresh destination folder under a host's home, or under the run's folder for a local one. */
function destination(context, host, name) {
  const base = host ? host.home : join(context.work, 'local');
  const path = join(base, name);
  rmSync(path, { recursive: true, force: true });
  return { path, spec: host ? `${host.alias}:${path}` : path };
}

/** Destinations `<name>-sicksync` and `<name>-rsync` on `host`, each brought up to date by its program. */
async function syncBoth(c, root, host, name) {
  const target = destination(c, host, `${name}-sicksync`);
  const other = destination(c, host, `${name}-rsync`);
  await sicksyncOnce(c, root, [target.spec]);
  await rsync(c, root, `${host.alias}:${other.path}`);
  return { target, other };
}

async function firstSync(context, name, title, fixture, host) {
  const ss = [];
  const rs = [];
  const memory = [];
  for (let i = 0; i < context.sizes.runs; i++) {
    const target = destination(context, host, `${name}-sicksync`);
    const result = await sicksyncOnce(context, fixture.root, [target.spec]);
    ss.push(result.ms);
    memory.push(result.memory);
    const other = destination(context, host, `${name}-rsync`);
    rs.push((await rsync(context, fixture.root, host ? `${host.alias}:${other.path}` : other.path)).ms);
  }
  const peak = maxMemory(memory);
  return [row(name, title, ss, rs, { memory: peak, note: memoryNote(peak) })];
}

// ---------------------------------------------------------------------------------------------
// Scenarios

export const SCENARIOS = [
  {
    name: 'first-ssh-code',
    describe: (c) => `first sync of a ${c.sizes.code}-file code tree (1-20 KB files) over SSH`,
    run: (c) => {
      const tree = codeTree(c);
      return firstSync(c, 'first-ssh-code', `first sync, ${tree.files} files / ${(tree.bytes / MB).toFixed(0)} MB, SSH`, tree, c.hosts[0]);
    },
  },
  {
    name: 'first-ssh-small',
    describe: (c) => `first sync of ${c.sizes.small} small files over SSH`,
    run: (c) => firstSync(c, 'first-ssh-small', `first sync, ${c.sizes.small} small files, SSH`, smallTree(c), c.hosts[0]),
  },
  {
    name: 'first-local-many',
    describe: (c) => `first sync of ${c.sizes.many} small files to a local folder`,
    run: (c) => firstSync(c, 'first-local-many', `first sync, ${c.sizes.many} files, local folder`, manyTree(c), null),
  },
  {
    name: 'nothing-changed-ssh',
    describe: (c) => `a second run over SSH when nothing changed (${c.sizes.code}-file tree)`,
    run: async (c) => {
      const tree = codeTree(c);
      const host = c.hosts[0];
      const { target, other } = await syncBoth(c, tree.root, host, 'nochange');
      const ss = [];
      const rs = [];
      const memory = [];
      for (let i = 0; i < Math.max(3, c.sizes.runs); i++) {
        const result = await sicksyncOnce(c, tree.root, [target.spec], { fresh: false });
        ss.push(result.ms);
        memory.push(result.memory);
        rs.push((await rsync(c, tree.root, `${host.alias}:${other.path}`)).ms);
      }
      const peak = maxMemory(memory);
      return [row('nothing-changed-ssh', 'nothing changed, SSH', ss, rs, { memory: peak, note: memoryNote(peak) })];
    },
  },
  {
    name: 'branch-switch',
    describe: (c) => `${c.sizes.switch} files rewritten at once while live over SSH`,
    run: async (c) => {
      const tree = codeTree(c);
      const host = c.hosts[0];
      const { target, other } = await syncBoth(c, tree.root, host, 'switch');
      const files = listFiles(tree.root).slice(0, c.sizes.switch);
      const rewrite = () => {
        const written = new Map();
        for (const file of files) {
          const content = randomBytes(1024 + Math.floor(Math.random() * 19 * 1024));
          writeFileSync(join(tree.root, file), content);
          written.set(file, content);
        }
        return written;
      };
      const ss = [];
      let clientPid = null;
      const peaks = new PeakWatch(() => ({ client: clientPid, daemon: daemonPid(host.home) }));
      const live = await startLive(c, tree.root, [target.spec]);
      clientPid = live.child.pid;
      try {
        for (let i = 0; i < c.sizes.runs; i++) {
          const written = rewrite();
          const last = process.hrtime.bigint();
          const arrived = await waitForAll([...written].map(([file, content]) => [join(target.path, file), content]));
          ss.push(Number(arrived - last) / 1e6);
          await sleep(500);
        }
      } finally {
        await live.stop();
      }
      const memory = combinePeaks(peaks.stop());
      const rs = [];
      for (let i = 0; i < c.sizes.runs; i++) {
        rewrite();
        rs.push((await rsync(c, tree.root, `${host.alias}:${other.path}`)).ms);
      }
      return [
        row('branch-switch', `${files.length} files rewritten at once while live: last write to converged (rsync: a re-run)`, ss, rs, {
          memory,
          note: `live on ${tree.files} files: ${memoryNote(memory)}`,
        }),
      ];
    },
  },
  {
    name: 'latency-1',
    describe: (c) => `one saved file to readable on 1 SSH host, ${c.sizes.edits} saves`,
    run: (c) => measureLatency(c, c.hosts.slice(0, 1)),
  },
  {
    name: 'latency-3',
    describe: (c) => `one saved file to readable on 3 SSH hosts, ${c.sizes.edits} saves`,
    run: (c) => measureLatency(c, c.hosts),
  },
  {
    name: 'big-delta',
    describe: (c) => `1 MiB changed inside a ${c.sizes.bigMb} MiB file, over SSH`,
    run: async (c) => {
      const big = bigFile(c);
      const host = c.hosts[0];
      const { target, other } = await syncBoth(c, big.root, host, 'big');
      const times = { ss: [], rs: [] };
      const bytes = { ss: [], rs: [] };
      const memory = [];
      for (let i = 0; i < Math.min(2, c.sizes.runs); i++) {
        changeMiddle(big.file, c.sizes.bigMb);
        const result = await sicksyncOnce(c, big.root, [target.spec], { fresh: false });
        bytes.ss.push(result.bytes);
        memory.push(result.memory);
        times.ss.push(result.ms);
        const before = readLoopbackBytes();
        times.rs.push((await rsync(c, big.root, `${host.alias}:${other.path}`)).ms);
        bytes.rs.push(readLoopbackBytes() - before);
      }
      const peak = maxMemory(memory);
      return [
        row('big-delta', `1 MiB changed inside a ${c.sizes.bigMb} MiB file: time`, times.ss, times.rs, {
          memory: peak,
          note: memoryNote(peak),
        }),
        {
          ...row('big-delta-bytes', `1 MiB changed inside a ${c.sizes.bigMb} MiB file: bytes on the wire`, bytes.ss, bytes.rs),
          unit: 'bytes',
        },
      ];
    },
  },
  {
    name: 'memory-many',
    describe: (c) => `client memory while watching ${c.sizes.many} files`,
    run: async (c) => {
      const tree = manyTree(c);
      const target = destination(c, null, 'many-live');
      await sicksyncOnce(c, tree.root, [target.spec]);
      let clientPid = null;
      const peaks = new PeakWatch(() => ({ client: clientPid, daemon: daemonPid(c.clientHome) }));
      const started = process.hrtime.bigint();
      const live = await startLive(c, tree.root, [target.spec]);
      const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
      clientPid = live.child.pid;
      await sleep(2000);
      // What it holds while it waits for changes, after the catch-up: the peak is the catch-up's.
      const watching = { client: readResidentBytes(clientPid), daemon: readResidentBytes(daemonPid(c.clientHome)) };
      // And once it has settled (V8 gives back its young generation only after a quiet while).
      await sleep(8000);
      const settled = { client: readResidentBytes(clientPid), daemon: readResidentBytes(daemonPid(c.clientHome)) };
      await live.stop();
      const memory = combinePeaks(peaks.stop());
      return [
        {
          ...row('memory-many', `live on ${tree.files} files (local folder): peak memory`, [memory.client ?? NaN]),
          unit: 'bytes',
          memory,
          note: `${memoryNote(memory)}; watching after ${(readyMs / 1000).toFixed(1)} s`,
        },
        {
          ...row('memory-many', `live on ${tree.files} files (local folder): resident 2 s after the catch-up`, [watching.client ?? NaN]),
          unit: 'bytes',
          memory: watching,
          note: memoryNote(watching),
        },
        {
          ...row('memory-many', `live on ${tree.files} files (local folder): resident 10 s after the catch-up`, [settled.client ?? NaN]),
          unit: 'bytes',
          memory: settled,
          note: memoryNote(settled),
        },
      ];
    },
  },
  {
    name: 'ctrl-c',
    describe: (c) => `Ctrl-C during a first sync of ${c.sizes.small} small files over SSH`,
    run: async (c) => {
      const tree = smallTree(c);
      const host = c.hosts[0];
      const ss = [];
      const rs = [];
      for (let i = 0; i < c.sizes.runs; i++) {
        const target = destination(c, host, 'ctrlc-sicksync');
        configure(tree.root, [target.spec]);
        rmSync(join(c.clientHome, '.sicksync', 'baselines'), { recursive: true, force: true });
        ss.push(await interruptAfter(process.execPath, [BIN, '--once'], { cwd: tree.root, env: c.env }, 1000));
        await waitForNoDaemon(c);
        const other = destination(c, host, 'ctrlc-rsync');
        rs.push(await interruptAfter('rsync', ['-a', '-e', c.ssh, `${tree.root}/`, `${host.alias}:${other.path}/`], {}, 300));
      }
      return [row('ctrl-c', 'Ctrl-C during a first sync: signal to exit', ss, rs)];
    },
  },
];

/** Starts a command, sends SIGINT after `afterMs`, and returns the ms from the signal to its exit. */
async function interruptAfter(command, args, options, afterMs) {
  const child = spawn(command, args, { ...options, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', () => resolve(process.hrtime.bigint())));
  await Promise.race([sleep(afterMs), exited]);
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const signalled = process.hrtime.bigint();
  child.kill('SIGINT');
  return Number((await exited) - signalled) / 1e6;
}

async function measureLatency(context, hosts) {
  const tree = codeTree(context);
  const targets = hosts.map((host, i) => destination(context, host, `latency${i}`));
  await sicksyncOnce(
    context,
    tree.root,
    targets.map((target) => target.spec),
  );
  const file = listFiles(tree.root)[0];
  const ss = [];
  const live = await startLive(
    context,
    tree.root,
    targets.map((target) => target.spec),
  );
  try {
    for (let i = 0; i < context.sizes.edits; i++) {
      const content = Buffer.from(`save ${i} ${randomBytes(8).toString('hex')}\n`);
      const arrived = waitForContent(
        targets.map((target) => join(target.path, file)),
        content,
      );
      const start = process.hrtime.bigint();
      writeFileSync(join(tree.root, file), content);
      ss.push(Number((await arrived) - start) / 1e6);
      await sleep(100);
    }
  } finally {
    await live.stop();
  }
  // rsync's best case for a single change: the changed file alone, over an SSH connection kept open.
  const rs = [];
  const host = hosts[0];
  const other = destination(context, host, 'latency-rsync');
  await rsync(context, tree.root, `${host.alias}:${other.path}`);
  const controlPath = join(context.work, 'control.sock');
  const master = spawn(
    'ssh',
    ['-F', context.client.config, '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-N', host.alias],
    {
      stdio: 'ignore',
    },
  );
  try {
    for (let i = 0; i < 100 && !existsSync(controlPath); i++) await sleep(50);
    const shell = `${context.ssh} -o ControlPath=${controlPath}`;
    for (let i = 0; i < Math.min(20, context.sizes.edits); i++) {
      writeFileSync(join(tree.root, file), `rsync save ${i}\n`);
      rs.push((await run('rsync', ['-a', '-e', shell, join(tree.root, file), `${host.alias}:${join(other.path, file)}`])).ms);
    }
  } finally {
    master.kill('SIGTERM');
  }
  const n = hosts.length;
  const p = (values, q) => [percentile(values, q)];
  return [
    row(`latency-${n}-p50`, `one saved file to readable, ${n} SSH host${n > 1 ? 's' : ''}: p50`, p(ss, 50), p(rs, 50), {
      samples: ss,
      rsyncSamples: rs,
    }),
    row(`latency-${n}-p95`, `one saved file to readable, ${n} SSH host${n > 1 ? 's' : ''}: p95`, p(ss, 95), p(rs, 95)),
  ];
}

/** The fixture's `.ts` files, relative to its root, in a stable order. */
function listFiles(root, prefix = '') {
  const out = [];
  const entries = readdirSync(join(root, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, relative));
    else if (entry.name.endsWith('.ts')) out.push(relative);
  }
  return out;
}
