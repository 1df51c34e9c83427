/**
 * What the client and the remote program agree on outside the protocol: the line `remote
 * start-daemon` prints once its daemon listens, and the exit code of `remote bridge` when no
 * daemon answers. Here so that the client needs nothing from src/remote.
 */

/** Starts the one line of `remote start-daemon` the client reads; JSON follows it. */
export const READY_PREFIX = 'sicksync-daemon-ready ';

/** Exit code of `remote bridge` that says "no daemon answers on the socket": start one and retry. */
export const NO_DAEMON_EXIT = 3;
