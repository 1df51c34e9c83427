/**
 * Signals for processes found by listing /proc. A pid found a moment ago may belong to another
 * process by now: pid_max is 32,768 on many machines, and the suite starts thousands of processes,
 * so a pid freed by one test's process is soon another test's daemon. A process is therefore named
 * by its pid and its start time, and signalled only while both still match.
 */
import { readFileSync } from 'node:fs';

export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot when it started. */
  start: string;
}

function readStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (in parentheses, and free to hold spaces), field 3 onwards.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function getProcessId(pid: number): ProcessId | null {
  const start = readStart(pid);
  return start === null ? null : { pid, start };
}

/** Sends `signal` when `id` is still the same process; false when it is gone or was replaced. */
export function signalProcess(id: ProcessId, signal: NodeJS.Signals): boolean {
  if (readStart(id.pid) !== id.start) return false;
  try {
    process.kill(id.pid, signal);
    return true;
  } catch {
    return false;
  }
}
