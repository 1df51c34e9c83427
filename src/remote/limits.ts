/**
 * Every limit the daemon puts on its clients, in one place (README, "What the daemon limits").
 * The daemon treats each client as untrusted (DESIGN section 4): one connection may not take the
 * memory, the descriptors or the threads its other clients need. Two kinds of limit:
 * - soft: the daemon stops reading from that connection while it is over, and reads on once it is
 *   back under half (TCP backpressure reaches the client; nothing fails);
 * - hard: the connection is told SICKSYNC_E_LIMIT, naming the limit, and closed. An honest client
 *   never gets near one; it reconnects and retries if it does.
 */
import { ErrorCode, SicksyncError } from '../shared/errors.js';
import { CHUNK_SIZE } from '../shared/protocol.js';

const MiB = 1024 * 1024;

/**
 * Largest WebSocket message the daemon accepts (ws `maxPayload`; a longer one closes that
 * connection with 1009). A content frame is one CHUNK_SIZE chunk plus a header of a few hundred
 * bytes; the rest is room for the largest headers a client sends (a `hash` request naming tens of
 * thousands of paths, a `hello` with a long exclude list).
 */
export const MAX_FRAME_BYTES = 8 * CHUNK_SIZE;

export const CONNECTION_LIMITS = {
  /** Hard: files one connection has open for writing (streamed writes not yet finished or aborted). */
  openWrites: 256,
  /** Soft: bytes of frames received and not yet applied. */
  bufferedBytes: 64 * MiB,
  /** Soft: operations received and not yet applied. */
  queuedOps: 64,
  /** Operations of one connection running at once (each may hold a file open); the rest wait their turn. */
  runningOps: 32,
  /** Soft: bytes of answers the client has not read yet (reading stops until it catches up). */
  outboundBytes: 16 * MiB,
} as const;

export const DAEMON_LIMITS = {
  /** Hard, for the connection that asks for one more: files open for writing, all connections together. */
  openWrites: 4096,
  /** Soft, for every connection: bytes received and not yet applied, all connections together. */
  bufferedBytes: 256 * MiB,
  /** Operations running at once, all connections together (handshakes, scans and hash requests aside). */
  runningOps: 256,
  /** Hard, for the connection that would be one more: clients connected at once. */
  connections: 512,
} as const;

/** The error a connection gets when it goes over a hard limit: what, how much, and what to do. */
export function getLimitError(what: string, limit: number, hint: string): SicksyncError {
  return new SicksyncError(ErrorCode.LIMIT, `${what}: the daemon's limit is ${limit}. ${hint}`);
}

export function isLimitError(error: unknown): boolean {
  return error instanceof SicksyncError && error.code === ErrorCode.LIMIT;
}
