/**
 * How to reach a destination: local ones through the local daemon, SSH ones through the daemon of
 * their host, and the opt-in TCP transport. ssh2 is loaded with the first SSH destination only.
 */
import type { DestinationSpec } from '../config/types.js';
import type { SshConnector } from '../ssh/ssh-connector.js';
import type { HelloOptions } from './daemon-connection.js';
import type { Endpoint } from './endpoint.js';
import { connectLocalDaemon } from './local-daemon.js';
import { connectTcpDaemon } from './tcp-daemon.js';

export interface Connector {
  /** Starts loading what connecting to `specs` needs (ssh2 and the SSH code: 160 ms), without connecting. */
  /** Loads what connecting to these destinations takes; resolves once it is loaded. */
  prepare(specs: readonly DestinationSpec[]): Promise<void>;
  connect(spec: DestinationSpec, hello: HelloOptions): Promise<Endpoint>;
  /** Ends the SSH connections it opened. */
  close(): Promise<void>;
}

export function createConnector(notice: (line: string) => void): Connector {
  let ssh: Promise<SshConnector> | null = null;
  const loadSsh = (): Promise<SshConnector> =>
    (ssh ??= import('../ssh/ssh-connector.js').then(({ SshConnector }) => new SshConnector({ notice })));
  return {
    async prepare(specs) {
      if (specs.some((spec) => spec.host && !spec.tcp)) await loadSsh();
    },
    async connect(spec, hello) {
      if (spec.tcp) return connectTcpDaemon(spec, spec.tcp, hello);
      if (!spec.host) return connectLocalDaemon(spec.id, hello);
      return (await loadSsh()).connect(spec, hello);
    },
    async close() {
      (await ssh)?.close();
    },
  };
}
