import type { WebSocket } from 'ws';

/**
 * Pings a peer every `intervalMs`; a peer that has not answered the previous ping by then is dead
 * and its socket is terminated (ws README, "How to detect and close broken connections?").
 */
export function startHeartbeat(ws: WebSocket, intervalMs: number, onDead?: () => void): () => void {
  let alive = true;
  const handlePong = (): void => {
    alive = true;
  };
  ws.on('pong', handlePong);
  const timer = setInterval(() => {
    if (!alive) {
      onDead?.();
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
  }, intervalMs);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    ws.off('pong', handlePong);
  };
  ws.once('close', stop);
  return stop;
}
