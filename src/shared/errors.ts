/**
 * Every error a user may see carries a stable code (documented in the README) and an exit code.
 * They are thrown anywhere and turned into output in one place: `src/client/cli/main.ts`.
 */
import type { Entry } from './entry.js';

export const ErrorCode = {
  USAGE: 'SICKSYNC_E_USAGE',
  CONFIG_INVALID: 'SICKSYNC_E_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'SICKSYNC_E_CONFIG_NOT_FOUND',
  UNKNOWN_ALIAS: 'SICKSYNC_E_UNKNOWN_ALIAS',
  PROTOCOL: 'SICKSYNC_E_PROTOCOL',
  PROTOCOL_VERSION: 'SICKSYNC_E_PROTOCOL_VERSION',
  PATH_OUTSIDE_ROOT: 'SICKSYNC_E_PATH_OUTSIDE_ROOT',
  DELETE_GUARD: 'SICKSYNC_E_DELETE_GUARD',
  DAEMON_START: 'SICKSYNC_E_DAEMON_START',
  DAEMON_UNREACHABLE: 'SICKSYNC_E_DAEMON_UNREACHABLE',
  CONNECTION_LOST: 'SICKSYNC_E_CONNECTION_LOST',
  IO: 'SICKSYNC_E_IO',
  NOT_CONVERGED: 'SICKSYNC_E_NOT_CONVERGED',
  SSH: 'SICKSYNC_E_SSH',
  HOST_KEY: 'SICKSYNC_E_HOST_KEY',
  REMOTE_NODE: 'SICKSYNC_E_REMOTE_NODE',
  /** A connection went over one of the daemon's per-connection limits; that connection only is closed. */
  LIMIT: 'SICKSYNC_E_LIMIT',
  /** The host's sshd refuses both a forwarded channel to the daemon's socket and the exec fallback. */
  SSH_FORWARDING: 'SICKSYNC_E_SSH_FORWARDING',
  /** A file name that is not valid UTF-8 cannot be synced; it is named (escaped) and the rest goes on. */
  NAME_ENCODING: 'SICKSYNC_E_NAME_ENCODING',
  /** A path longer than the filesystem allows; it is named and the rest goes on. */
  PATH_TOO_LONG: 'SICKSYNC_E_PATH_TOO_LONG',
  /** The target of an operation changed after it was planned; nothing was changed, and it is planned again. */
  TARGET_CHANGED: 'SICKSYNC_E_TARGET_CHANGED',
  /** A file changed while it was being read for sending; it is sent again once it settles. */
  SOURCE_CHANGED: 'SICKSYNC_E_SOURCE_CHANGED',
  /** A path changed on both sides under the `manual` policy: both versions stay until `sicksync resolve`. */
  CONFLICT: 'SICKSYNC_E_CONFLICT',
  /** `history`/`restore` found no version of the path, or no such version number. */
  NO_VERSION: 'SICKSYNC_E_NO_VERSION',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Exit codes of the command line: 0 success, 1 runtime failure, 2 bad usage or bad configuration. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

const usageCodes: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.USAGE,
  ErrorCode.CONFIG_INVALID,
  ErrorCode.CONFIG_NOT_FOUND,
  ErrorCode.UNKNOWN_ALIAS,
]);

export class SicksyncError extends Error {
  override name = 'SicksyncError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get exitCode(): number {
    return usageCodes.has(this.code) ? ExitCode.USAGE : ExitCode.FAILURE;
  }

  /** The shape errors take on the wire: never a stack. */
  toWire(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** One problem of a configuration file, located by the file and the field's dot-path. */
export interface ConfigProblem {
  file: string;
  field: string;
  message: string;
}

export class ConfigError extends SicksyncError {
  override name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.file}: ${p.field ? `${p.field}: ` : ''}${p.message}`);
    super(ErrorCode.CONFIG_INVALID, `invalid configuration, nothing was synced:\n${lines.join('\n')}\nFix the fields above and run again.`);
    this.problems = problems;
  }
}

export class ProtocolError extends SicksyncError {
  override name = 'ProtocolError';
  constructor(message: string, code: ErrorCode = ErrorCode.PROTOCOL) {
    super(code, message);
  }
}

export interface WireError {
  code: string;
  message: string;
}

/** Builds an error from one received over the wire, keeping its code when it is one of ours. */
/** The target of an operation is not what its plan saw there; `current` is what it is now. */
export class TargetChangedError extends SicksyncError {
  override name = 'TargetChangedError';

  constructor(
    readonly path: string,
    readonly current: Entry | null,
  ) {
    super(ErrorCode.TARGET_CHANGED, `${path} changed after the plan was made; planned again`);
  }
}

export function getErrorFromWire(wire: WireError): SicksyncError {
  const known = Object.values(ErrorCode) as string[];
  const code = known.includes(wire.code) ? (wire.code as ErrorCode) : ErrorCode.IO;
  return new SicksyncError(code, wire.message);
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

export function hasErrno(error: unknown, ...codes: string[]): boolean {
  return isErrnoException(error) && codes.includes(error.code ?? '');
}
