/**
 * Connects destinations on SSH hosts to the daemon there: one SSH connection per host however many
 * destinations it serves, a daemon started on demand, and the WebSocket carried through SSH to the
 * daemon's Unix socket, so nothing on the host listens on a network port.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { DestinationSpec } from '../config/types.js';
import { DaemonConnection, type HelloOptions } from '../endpoint/daemon-connection.js';
import type { PassphrasePrompt } from './auth.js';
import { getRemoteProgram, probeHost, startRemoteDaemon, type RemoteInfo } from './remote-host.js';
import { SshSession, type SshTarget } from './ssh-session.js';

interface Host {
  session: SshSession;
  info: RemoteInfo;
  program: Promise<string> | null;
}

/** ws expects a net.Socket; an SSH channel is a plain Duplex without the socket tuning calls. */
function toSocketLike(stream: Duplex): Duplex {
  const socket = stream as Duplex & Record<string, unknown>;
  for (const method of ['setNoDelay', 'setTimeout', 'setKeepAlive', 'ref', 'unref']) {
    if (typeof socket[method] !== 'function') socket[method] = () => socket;
  }
  return socket;
}

export class SshConnector {
  private readonly hosts = new Map<string, Promise<Host>>();

  constructor(private readonly options: { home?: string; prompt?: PassphrasePrompt | null } = {}) {}

  private getHost(target: SshTarget): Promise<Host> {
    const key = `${target.username ?? ''}@${target.host}:${target.port ?? ''}`;
    const known = this.hosts.get(key);
    if (known) return known;
    const opening = (async (): Promise<Host> => {
      const session = await SshSession.open(target, this.options);
      session.onClose(() => this.hosts.delete(key));
      try {
        return { session, info: await probeHost(session), program: null };
      } catch (error) {
        session.close();
        throw error;
      }
    })();
    this.hosts.set(key, opening);
    opening.catch(() => this.hosts.delete(key));
    return opening;
  }

  async connect(spec: DestinationSpec, hello: HelloOptions): Promise<DaemonConnection> {
    if (!spec.host) throw new SicksyncError(ErrorCode.USAGE, `${spec.id} is not an SSH destination`);
    const { hostname, username, port } = spec.host;
    const host = await this.getHost({ host: hostname, ...(username ? { username } : {}), ...(port ? { port } : {}) });
    const socketPath = `${host.info.home}/.sicksync/daemon.sock`;
    try {
      return await this.openDaemon(host, socketPath, spec.id, hello);
    } catch (error) {
      if (error instanceof SicksyncError || host.session.isClosed) throw error;
      // Nothing answers on the socket: start a daemon (several destinations share one start).
    }
    host.program ??= getRemoteProgram(host.session, host.info);
    host.program.catch(() => (host.program = null));
    await startRemoteDaemon(host.session, await host.program);
    return this.openDaemon(host, socketPath, spec.id, hello);
  }

  private async openDaemon(host: Host, socketPath: string, description: string, hello: HelloOptions): Promise<DaemonConnection> {
    const stream = toSocketLike(await host.session.openSocket(socketPath));
    const connection = await DaemonConnection.open('ws://sicksync-daemon/', description, hello, {
      createConnection: () => stream as never,
    });
    connection.onClose(() => {
      // A daemon that stopped answering over SSH usually means the whole connection hangs: drop
      // it, so the retry opens a fresh one instead of waiting on ssh2's keep-alives.
      if (connection.stalled) host.session.close();
    });
    return connection;
  }

  close(): void {
    for (const opening of this.hosts.values())
      void opening.then(
        (host) => host.session.close(),
        () => undefined,
      );
    this.hosts.clear();
  }
}
