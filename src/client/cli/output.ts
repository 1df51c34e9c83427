/**
 * Presentation at the edge: colours only when the stream is a TTY (chalk decides), plain lines otherwise.
 */
import chalk from 'chalk';
import type { Reporter } from '../sync/reporter.js';

export function createConsoleReporter(prefix = ''): Reporter {
  const lead = prefix ? `${prefix} ` : '';
  return {
    info: (line) => process.stdout.write(`${lead}${line}\n`),
    warn: (line) => process.stderr.write(`${lead}${chalk.yellow('warning:')} ${line}\n`),
    error: (line) => process.stderr.write(`${lead}${chalk.red('error:')} ${line}\n`),
  };
}

export function printLines(lines: readonly string[]): void {
  for (const line of lines) process.stdout.write(`${line}\n`);
}

export function printError(code: string, message: string): void {
  process.stderr.write(`${chalk.red(`sicksync: ${message}`)}\n${chalk.dim(`(${code})`)}\n`);
}
