/**
 * Connects destinations on SSH hosts to the daemon there: one SSH connection per host however many
 * destinations it serves, a daemon started on demand, and the WebSocket carried through SSH to the
 * daemon's Unix socket, so nothing on the host listens on a network port. Where sshd refuses to
 * forward to a socket, the same bytes go through an exec channel running `remote bridge` instead
 * (DESIGN section 4), said once per host.
 */
import type { Duplex } from 'node:stream';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { DestinationSpec } from '../config/types.js';
import { DaemonConnection, type HelloOptions } from '../endpoint/daemon-connection.js';
import type { PassphrasePrompt } from './auth.js';
import { getRemoteProgram, probeHost, startRemoteDaemon, type RemoteInfo } from './remote-host.js';
import { NO_DAEMON_EXIT } from '../../shared/remote-contract.js';
import { ForwardingRefusedError, SshSession, type CommandStream, type SshTarget } from './ssh-session.js';

interface Host {
  session: SshSession;
  info: RemoteInfo;
  program: Promise<string> | null;
  /** How the WebSocket reaches the daemon's socket: a forwarded channel, or `remote bridge`. */
  transport: 'forward' | 'bridge';
}

/** Not the daemon's answer: nothing listens on its socket yet, so start one and try again. */
class NoDaemonError extends Error {}

function getExecRefusedError(label: string, detail: string): SicksyncError {
  return new SicksyncError(
    ErrorCode.SSH_FORWARDING,
    `cannot reach the daemon on ${label}: its sshd refuses to forward to a Unix socket (AllowStreamLocalForwarding no, ` +
      `DisableForwarding yes, or a 'restrict' key), and \`sicksync remote bridge\` could not run there either (${detail}). ` +
      'Allow one of them: AllowStreamLocalForwarding yes in sshd_config, or no ForceCommand / command= for this key.',
  );
}

/** Resolves with `promise`'s value, or with null once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]).finally(() =>
    clearTimeout(timer),
  );
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

  constructor(
    private readonly options: {
      home?: string;
      prompt?: PassphrasePrompt | null;
      /** Told once per host that the bridge is used instead of forwarding. */
      notice?: (line: string) => void;
    } = {},
  ) {}

  private getHost(target: SshTarget): Promise<Host> {
    const key = `${target.username ?? ''}@${target.host}:${target.port ?? ''}`;
    const known = this.hosts.get(key);
    if (known) return known;
    const opening = (async (): Promise<Host> => {
      const session = await SshSession.open(target, this.options);
      session.onClose(() => this.hosts.delete(key));
      try {
        return { session, info: await probeHost(session), program: null, transport: 'forward' };
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
    // Destinations of one host connect at the same time: each judges the transport it tried.
    let tried = host.transport;
    try {
      return await this.openDaemon(host, tried, spec.id, hello);
    } catch (error) {
      if (host.session.isClosed) throw error;
      if (error instanceof ForwardingRefusedError || (tried === 'forward' && host.transport === 'bridge')) {
        this.useBridge(host);
        return this.connect(spec, hello);
      }
      if (error instanceof SicksyncError) throw error;
      // Nothing answers on the socket: start a daemon (several destinations share one start).
    }
    // A daemon that reached its idle exit between its start and our channel (a short grace, a slow
    // host) is started again: twice more at most.
    for (let starts = 1; ; starts += 1) {
      await startRemoteDaemon(host.session, await this.getProgram(host));
      tried = host.transport;
      try {
        return await this.openDaemon(host, tried, spec.id, hello);
      } catch (error) {
        if (error instanceof NoDaemonError && starts < 3 && !host.session.isClosed) continue;
        return this.afterStartFailed(host, tried, spec.id, hello, error);
      }
    }
  }

  /** The daemon was started, yet the first channel to it failed. */
  private afterStartFailed(host: Host, tried: Host['transport'], description: string, hello: HelloOptions, error: unknown) {
    if (error instanceof NoDaemonError) {
      throw new SicksyncError(
        ErrorCode.DAEMON_UNREACHABLE,
        `${host.session.label}: the daemon started there stopped answering before it could be reached (${error.message.trim()})`,
      );
    }
    if (tried === 'bridge' || host.session.isClosed || error instanceof SicksyncError) throw error;
    // The daemon runs (start-daemon said so), yet the channel to its socket failed: this sshd
    // refuses that kind of forwarding, whatever reason code it gave.
    this.useBridge(host);
    return this.openDaemon(host, 'bridge', description, hello);
  }

  private getProgram(host: Host): Promise<string> {
    host.program ??= getRemoteProgram(host.session, host.info);
    host.program.catch(() => (host.program = null));
    return host.program;
  }

  private useBridge(host: Host): void {
    if (host.transport === 'bridge') return;
    host.transport = 'bridge';
    this.options.notice?.(
      `${host.session.label}: its sshd does not forward to Unix sockets; using \`sicksync remote bridge\` over an SSH command channel instead`,
    );
  }

  private async openStream(host: Host, transport: Host['transport']): Promise<{ stream: Duplex; exited: CommandStream['exited'] | null }> {
    if (transport === 'forward') {
      return { stream: await host.session.openSocket(`${host.info.home}/.sicksync/daemon.sock`), exited: null };
    }
    const bridge = await host.session.openCommandStream(`${await this.getProgram(host)} remote bridge`);
    return { stream: bridge.stream, exited: bridge.exited };
  }

  private async openDaemon(host: Host, transport: Host['transport'], description: string, hello: HelloOptions): Promise<DaemonConnection> {
    const { stream, exited } = await this.openStream(host, transport);
    let connection: DaemonConnection;
    try {
      connection = await DaemonConnection.open(
        'ws://sicksync-daemon/',
        description,
        { ...hello, delta: true },
        {
          createConnection: () => toSocketLike(stream) as never,
        },
      );
    } catch (error) {
      if (exited) {
        // The bridge ended before the handshake: why it did says what to do next.
        const exit = await within(exited, 2000);
        if (exit?.code === NO_DAEMON_EXIT) throw new NoDaemonError(exit.stderr);
        if (exit && exit.code !== 0)
          throw getExecRefusedError(host.session.label, `exit ${exit.code}${exit.stderr ? `: ${exit.stderr}` : ''}`);
      }
      throw error;
    }
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
