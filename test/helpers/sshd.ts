/**
 * Simulated SSH hosts for tests: OpenSSH's sshd on its own loopback address (127.0.0.2, 127.0.0.3, ...)
 * with a host key, an authorized key and a known_hosts entry made for the run, and its own remote
 * home and PATH (`SetEnv` in its config), so the remote user's home is a temp folder.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((path) => existsSync(path)) ?? 'sshd';

export interface SshHost {
  alias: string;
  address: string;
  port: number;
  /** The remote user's $HOME. */
  home: string;
  /** The remote PATH (a folder of symlinks). */
  binDir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function getFreePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(address: string, port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, address);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`sshd on ${address}:${port} did not start`);
}

/** The client's key pair in `clientHome/.ssh`, made once per client home. */
export function ensureClientKey(clientHome: string): string {
  const key = join(clientHome, '.ssh', 'id_ed25519');
  if (!existsSync(key)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  }
  return readFileSync(`${key}.pub`, 'utf8').trim();
}

export interface SshHostOptions {
  /** Where the host keeps its keys, config and home. */
  root: string;
  /** The last byte of its loopback address: 2 → 127.0.0.2. */
  index: number;
  clientHome: string;
  alias: string;
  /** Put node on the remote PATH (default true). */
  withNode?: boolean;
  /** Record the host key in the client's known_hosts (default true). */
  trusted?: boolean;
  /** sshd_config lines put first (sshd keeps the first value of a keyword): `DisableForwarding yes`. */
  extraConfig?: string[];
  /** Options in front of the client's key in authorized_keys: `restrict`, `command="..."`. */
  keyOptions?: string;
}

export async function createSshHost(options: SshHostOptions): Promise<SshHost> {
  const { root, index, clientHome, alias } = options;
  const address = `127.0.0.${index}`;
  const home = join(root, 'home');
  const binDir = join(root, 'bin');
  mkdirSync(home, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  // sh is needed by the probe; node only when the host "has Node.js".
  symlinkSync('/bin/sh', join(binDir, 'sh'));
  if (options.withNode !== false) symlinkSync(process.execPath, join(binDir, 'node'));
  const hostKey = join(root, 'host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const clientPub = ensureClientKey(clientHome);
  writeFileSync(join(root, 'authorized_keys'), `${options.keyOptions ? `${options.keyOptions} ` : ''}${clientPub}\n`, { mode: 0o600 });
  const port = await getFreePort(address);
  const config = join(root, 'sshd_config');
  writeFileSync(
    config,
    [
      ...(options.extraConfig ?? []),
      `Port ${port}`,
      `ListenAddress ${address}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(root, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(root, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin yes',
      'AllowStreamLocalForwarding yes',
      'AllowTcpForwarding yes',
      `SetEnv HOME=${home} PATH=${binDir}`,
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const sshDir = join(clientHome, '.ssh');
  if (options.trusted !== false) appendFileSync(join(sshDir, 'known_hosts'), `[${address}]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
  appendFileSync(
    join(sshDir, 'config'),
    `Host ${alias}\n  HostName ${address}\n  Port ${port}\n  User ${userInfo().username}\n  IdentityFile ~/.ssh/id_ed25519\n\n`,
  );
  // sshd insists on its privilege separation folder.
  mkdirSync('/run/sshd', { recursive: true });

  let child: ChildProcess | null = null;
  const host: SshHost = {
    alias,
    address,
    port,
    home,
    binDir,
    async start() {
      child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      await waitForPort(address, port, child);
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await Promise.race([exited, sleep(3000).then(() => running.kill('SIGKILL'))]);
      await exited;
    },
  };
  await host.start();
  return host;
}
