import { ErrorCode, SicksyncError, isErrnoException } from '../errors.js';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the filesystem is read-only',
  ENOTEMPTY: 'the folder is not empty',
  EISDIR: 'a folder is in the way',
  ENOTDIR: 'a file is in the way of a folder',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'the daemon has no file descriptors left (too many open files)',
  ENFILE: 'the system has no file descriptors left (too many open files)',
  EIO: 'input/output error',
  ELOOP: 'too many levels of symlinks',
};

/** Turns an fs failure at a destination into an error a user can act on, keeping our own errors. */
export function toDestinationError(error: unknown, action: string, path: string, place = 'at the destination'): SicksyncError {
  if (error instanceof SicksyncError) return error;
  if (isErrnoException(error)) {
    const reason = REASONS[error.code ?? ''] ?? error.message;
    const code = error.code === 'ENAMETOOLONG' ? ErrorCode.PATH_TOO_LONG : ErrorCode.IO;
    return new SicksyncError(code, `cannot ${action} ${JSON.stringify(path)} ${place}: ${reason} (${error.code})`);
  }
  return new SicksyncError(ErrorCode.IO, `cannot ${action} ${JSON.stringify(path)} ${place}: ${String(error)}`);
}
