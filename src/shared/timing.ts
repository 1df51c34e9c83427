/** Durations that tests shorten through the environment; a person sets them with flags. */
function readMs(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function getIdleGraceMs(): number {
  return readMs('SICKSYNC_DAEMON_GRACE_MS', 10_000);
}

export function getHeartbeatMs(): number {
  return readMs('SICKSYNC_HEARTBEAT_MS', 10_000);
}
