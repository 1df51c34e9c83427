/**
 * `sicksync -a`: every active project of the global file in a child process of its own, every output
 * line prefixed with its alias. A signal stops all; a child that dies is reported while the others go on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ErrorCode, ExitCode, SicksyncError } from '../../shared/errors.js';
import { BIN_SCRIPT } from '../bin-path.js';
import { readGlobalConfig } from '../config/global-file.js';
import type { Reporter } from '../sync/reporter.js';

function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WritableStream): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => out.write(`${prefix} ${line}\n`));
}

export async function runAll(home: string, passThrough: string[], reporter: Reporter): Promise<number> {
  const global = await readGlobalConfig(home);
  const active = global.projects.filter((project) => project.active);
  if (active.length === 0) {
    throw new SicksyncError(
      ErrorCode.CONFIG_NOT_FOUND,
      `no active project in ${global.path}. Register one with "sicksync add PATH" or "sicksync init".`,
    );
  }
  let stopping = false;
  const children = new Map<string, ChildProcess>();
  const exits = active.map(
    (project) =>
      new Promise<number>((resolve) => {
        const prefix = `[${project.alias}]`;
        const child = spawn(process.execPath, [BIN_SCRIPT, project.alias, ...passThrough], {
          cwd: project.path,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
        });
        children.set(project.alias, child);
        pipeLines(child.stdout, prefix, process.stdout);
        pipeLines(child.stderr, prefix, process.stderr);
        child.once('error', (error) => {
          reporter.error(`${prefix} could not start: ${error.message}`);
          resolve(ExitCode.FAILURE);
        });
        child.once('exit', (code, signal) => {
          children.delete(project.alias);
          const status = code ?? (signal ? 128 : ExitCode.FAILURE);
          if (!stopping && status !== 0) reporter.error(`${prefix} exited with code ${code ?? signal}; the other projects go on`);
          resolve(status);
        });
      }),
  );
  const forward = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const child of children.values()) child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const codes = await Promise.all(exits);
    if (stopping) return ExitCode.OK;
    return Math.max(...codes) === 0 ? ExitCode.OK : ExitCode.FAILURE;
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
