// A private OpenSSH server on a loopback address for the benchmark, with keys, known_hosts and an
// ssh config made for the run, and its own remote home (SetEnv), so nothing of the user's is touched.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((path) => existsSync(path));

function freePort(address) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(address, port, child) {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`sshd on ${address} exited with ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, address);
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`sshd on ${address}:${port} did not start`);
}

/** The client side: a key pair and an ssh config in `clientHome/.ssh`. */
export function prepareClient(clientHome) {
  const sshDir = join(clientHome, '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  const key = join(sshDir, 'id_ed25519');
  if (!existsSync(key)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  for (const file of ['config', 'known_hosts']) if (!existsSync(join(sshDir, file))) writeFileSync(join(sshDir, file), '');
  return { sshDir, key, config: join(sshDir, 'config'), knownHosts: join(sshDir, 'known_hosts') };
}

/**
 * Starts sshd as `alias` on 127.0.0.<index>. The remote user's home is `<root>/home`; `env` is set
 * for every session (the daemon's grace period, for one).
 */
export async function startHost({ root, index, alias, client, env = {} }) {
  const address = `127.0.0.${index}`;
  const home = join(root, 'home');
  const binDir = join(root, 'bin');
  mkdirSync(home, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  for (const tool of ['sh', 'rsync'])
    symlinkSync(
      execFileSync('sh', ['-c', `command -v ${tool}`])
        .toString()
        .trim(),
      join(binDir, tool),
    );
  symlinkSync(process.execPath, join(binDir, 'node'));
  const hostKey = join(root, 'host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  writeFileSync(join(root, 'authorized_keys'), readFileSync(`${client.key}.pub`), { mode: 0o600 });
  const port = await freePort(address);
  const setEnv = Object.entries({ HOME: home, PATH: binDir, ...env })
    .map(([key, value]) => `"${key}=${value}"`)
    .join(' ');
  const config = join(root, 'sshd_config');
  writeFileSync(
    config,
    [
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
      'MaxSessions 100',
      'MaxStartups 100',
      `SetEnv ${setEnv}`,
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  appendFileSync(client.knownHosts, `[${address}]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
  appendFileSync(
    client.config,
    `Host ${alias}\n  HostName ${address}\n  Port ${port}\n  User ${userInfo().username}\n  IdentityFile ${client.key}\n  UserKnownHostsFile ${client.knownHosts}\n\n`,
  );
  mkdirSync('/run/sshd', { recursive: true });
  // sshd's own log (a forward tried before the daemon listens, say) would only clutter the table.
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: 'ignore' });
  await waitForPort(address, port, child);
  return {
    alias,
    address,
    home,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
