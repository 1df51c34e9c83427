// Running the programs under test: elapsed time, and the peak memory (VmHWM) of the client and of
// the remote daemon, sampled from /proc while they run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

function readStatusBytes(pid, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Peak resident memory of `pid` so far, in bytes; null once it is gone. */
export function readPeakBytes(pid) {
  return readStatusBytes(pid, 'VmHWM');
}

/** Resident memory of `pid` now, in bytes; null once it is gone. */
export function readResidentBytes(pid) {
  return readStatusBytes(pid, 'VmRSS');
}

/** Samples the peak memory of the processes `getPids()` names until stopped. */
export class PeakWatch {
  constructor(getPids, everyMs = 50) {
    this.peaks = new Map();
    this.timer = setInterval(() => this.sample(getPids()), everyMs);
    this.sample(getPids());
  }

  sample(pids) {
    for (const [name, pid] of Object.entries(pids)) {
      if (!pid) continue;
      const bytes = readPeakBytes(pid);
      if (bytes !== null) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, bytes));
    }
  }

  stop() {
    clearInterval(this.timer);
    return Object.fromEntries(this.peaks);
  }
}

/** Runs a command to its end; rejects on a non-zero exit with its stderr. */
export function run(command, args, { cwd, env, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve({ ms, stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${stderr || stdout}`));
    });
  });
}

/** Bytes sent over the loopback interface so far (both directions of every loopback connection). */
export function readLoopbackBytes() {
  const line = readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .find((row) => row.trim().startsWith('lo:'));
  return line ? Number(line.trim().split(/\s+/)[1]) : NaN;
}
