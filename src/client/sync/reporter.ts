/** Where sync progress goes; the command line renders it (colours only on a TTY). */
export interface Reporter {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}
