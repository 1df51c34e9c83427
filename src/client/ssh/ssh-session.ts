/**
 * One SSH connection to a host, opened as the user's `ssh` would (config, agent, keys, known_hosts,
 * ProxyJump, keep-alives), and the three things sicksync does over it: run a command, transfer a
 * file over SFTP, and open a stream to the daemon's Unix socket.
 */
import { homedir, userInfo } from 'node:os';
import type { Duplex } from 'node:stream';
import ssh2, { type ClientChannel, type SFTPWrapper } from 'ssh2';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { getAuthPlan, type PassphrasePrompt } from './auth.js';
import { HostKeyCheck } from './host-key-check.js';
import { readSshConfig } from './ssh-config.js';

export interface SshTarget {
  /** The host as the user wrote it; resolved through ~/.ssh/config. */
  host: string;
  username?: string;
  port?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is sshd running there?)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'no such host name',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
};

export function parseJumpHost(spec: string): SshTarget {
  const first = spec.split(',')[0] ?? spec;
  const match = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(first.trim());
  if (!match?.[2]) throw new SicksyncError(ErrorCode.SSH, `cannot understand ProxyJump ${JSON.stringify(spec)}`);
  const target: SshTarget = { host: match[2].replace(/^\[|\]$/g, '') };
  if (match[1]) target.username = match[1];
  if (match[3]) target.port = Number(match[3]);
  return target;
}

/** The server will not forward to a Unix socket (AllowStreamLocalForwarding, DisableForwarding, restrict). */
export class ForwardingRefusedError extends Error {}

export interface CommandStream {
  stream: Duplex;
  exited: Promise<{ code: number | null; stderr: string }>;
}

export class SshSession {
  private closed = false;
  private readonly closeListeners: ((reason: string) => void)[] = [];

  private constructor(
    readonly label: string,
    private readonly client: ssh2.Client,
    private readonly jump: SshSession | null,
  ) {
    client.on('close', () => this.handleClose('SSH connection closed'));
    client.on('error', (error) => this.handleClose(error.message));
  }

  static async open(target: SshTarget, options: { home?: string; prompt?: PassphrasePrompt | null } = {}): Promise<SshSession> {
    const home = options.home ?? homedir();
    const config = readSshConfig(target.host, home);
    const port = target.port ?? config.port ?? 22;
    const username = target.username ?? config.user ?? userInfo().username;
    const label = target.host;
    const hostKey = new HostKeyCheck(label, config.hostName, port, config);
    const auth = await getAuthPlan(config, username, home, options.prompt ?? null);
    if (auth.methods.length === 0) {
      throw new SicksyncError(
        ErrorCode.SSH,
        `cannot log in to ${label}: no SSH key to offer (no ssh-agent, no usable key in ~/.ssh${auth.skipped.length ? `; skipped ${auth.skipped.join(', ')}` : ''}). ` +
          'Start ssh-agent and add a key, or set IdentityFile in ~/.ssh/config.',
      );
    }
    const jump = config.proxyJump ? await SshSession.open(parseJumpHost(config.proxyJump), options) : null;
    const sock = jump ? await jump.forwardTcp(config.hostName, port) : undefined;
    const client = new ssh2.Client();
    const algorithms = hostKey.getAlgorithms();
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      // Attached with on(), not once(), and never removed: ssh2 may emit a second 'error' after
      // the first (e.g. "Connection lost before handshake" after a reset), and an 'error' with no
      // listener crashes the process. After 'ready' the session's own handler takes over.
      const fail = (error: Error & { level?: string; code?: string }): void => {
        if (settled) return;
        settled = true;
        client.end();
        jump?.close();
        if (hostKey.refusal) return reject(hostKey.refusal);
        if (error.level === 'client-authentication') {
          const skipped = auth.skipped.length > 0 ? ` Skipped: ${auth.skipped.join(', ')}.` : '';
          return reject(
            new SicksyncError(
              ErrorCode.SSH,
              `cannot log in to ${label} as ${username}: permission denied (tried ${auth.tried.join(', ')}).${skipped}`,
            ),
          );
        }
        const reason = NETWORK_REASONS[error.code ?? ''] ?? error.message;
        reject(new SicksyncError(ErrorCode.SSH, `cannot reach ${label} (${config.hostName}:${port}): ${reason}`));
      };
      client.once('ready', () => {
        settled = true;
        // Frames are written whole, each ending a batch: Nagle's algorithm would hold the next one
        // back until the peer's (delayed, up to 40 ms) TCP acknowledgement of the last.
        client.setNoDelay(true);
        resolve();
      });
      client.on('error', fail);
      // sshd killed during the handshake can close the connection without an 'error'; ssh2 then
      // clears its ready timeout too, and the attempt would wait forever.
      client.once('close', () => fail(Object.assign(new Error('the connection closed during the SSH handshake'), { code: 'ECONNRESET' })));
      client.connect({
        host: config.hostName,
        port,
        username,
        ...(sock ? { sock } : {}),
        authHandler: auth.methods,
        hostVerifier: (key: Buffer) => hostKey.verify(key),
        ...(algorithms ? { algorithms: { serverHostKey: algorithms as ssh2.ServerHostKeyAlgorithm[] } } : {}),
        keepaliveInterval: (config.serverAliveInterval ?? 15) * 1000,
        keepaliveCountMax: 3,
        readyTimeout: 20_000,
      });
    });
    return new SshSession(label, client, jump);
  }

  private forwardTcp(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => (error ? reject(error) : resolve(stream)));
    });
  }

  /** Runs a command without a PTY (so shell start-up files stay quiet) and collects its output. */
  exec(command: string, input?: string): Promise<ExecResult> {
    return this.withTimeout(`running ${command.split(' ')[0] ?? 'a command'}`, this.execUnbounded(command, input), 60_000);
  }

  private execUnbounded(command: string, input?: string): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error, stream) => {
        if (error) return reject(new SicksyncError(ErrorCode.SSH, `cannot run a command on ${this.label}: ${error.message}`));
        let stdout = '';
        let stderr = '';
        // A channel torn down with its connection emits 'error'; the 'close' after it settles us.
        stream.on('error', () => undefined);
        stream.stderr.on('error', () => undefined);
        stream.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
        stream.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
        stream.once('close', (code: number | null) => resolve({ code: code ?? 1, stdout, stderr }));
        stream.end(input);
      });
    });
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      this.client.sftp((error, sftp) =>
        error ? reject(new SicksyncError(ErrorCode.SSH, `SFTP to ${this.label} failed: ${error.message}`)) : resolve(sftp),
      );
    });
  }

  /**
   * A byte stream to a Unix socket on the host (OpenSSH streamlocal forwarding). Refused by the
   * server's policy, it fails with ForwardingRefusedError; for a socket nobody listens on, with the
   * channel's own error.
   */
  openSocket(socketPath: string): Promise<Duplex> {
    return this.withTimeout(
      `opening ${socketPath}`,
      new Promise((resolve, reject) => {
        this.client.openssh_forwardOutStreamLocal(socketPath, (error, stream) => {
          if (!error) return resolve(stream);
          // RFC 4254 5.1: reason 1 is SSH_OPEN_ADMINISTRATIVELY_PROHIBITED.
          reject((error as Error & { reason?: number }).reason === 1 ? new ForwardingRefusedError(error.message) : error);
        });
      }),
    );
  }

  /**
   * A command's channel as a byte stream (for `remote bridge`): its stdout is what the stream
   * reads, its stdin what it writes. `exited` says how it ended, with the end of its stderr.
   */
  openCommandStream(command: string): Promise<CommandStream> {
    return this.withTimeout(
      `running ${command.split(' ')[0] ?? 'a command'}`,
      new Promise((resolve, reject) => {
        this.client.exec(command, (error, stream) => {
          if (error) return reject(new SicksyncError(ErrorCode.SSH, `cannot run a command on ${this.label}: ${error.message}`));
          let stderr = '';
          stream.on('error', () => undefined); // torn down with its connection; 'close' follows
          stream.stderr.on('error', () => undefined);
          stream.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
          const exited = new Promise<{ code: number | null; stderr: string }>((done) => {
            let code: number | null = null;
            stream.once('exit', (exitCode: number | null) => (code = exitCode));
            stream.once('close', () => done({ code, stderr: stderr.trim() }));
          });
          resolve({ stream, exited });
        });
      }),
    );
  }

  /** A host that hangs must not hang us: give up, and drop the connection for a fresh one. */
  private withTimeout<T>(what: string, work: Promise<T>, ms = 30_000): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new SicksyncError(ErrorCode.SSH, `${this.label} did not answer within ${ms / 1000} s (${what})`));
        this.close();
      }, ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closed) listener('SSH connection closed');
    else this.closeListeners.push(listener);
  }

  private handleClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener(reason);
    this.jump?.close();
  }

  close(): void {
    this.client.end();
    this.handleClose('closed by sicksync');
  }
}
