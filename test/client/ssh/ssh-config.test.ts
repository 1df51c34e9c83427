/**
 * ~/.ssh/config as ssh(1) reads it (ssh_config(5)): Host patterns, the first value of an option wins,
 * IdentityFile accumulates, tokens and ~ expand. Real files in a temp HOME.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandTilde, getOptionsForHost, matchesHostPatterns, readSshConfig } from '../../../src/client/ssh/ssh-config.js';

let home = '';

beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'sshcfg-'));
  await mkdir(path.join(home, '.ssh'));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Writes `lines` as HOME/.ssh/config and reads the options for `host`. */
async function configFor(host: string, lines: string[]) {
  await writeFile(path.join(home, '.ssh', 'config'), `${lines.join('\n')}\n`);
  return readSshConfig(host, home);
}

describe('Host patterns', () => {
  it('matches `*` against any run of characters, including none and dots', () => {
    expect(matchesHostPatterns('web.example.com', ['*.example.com'])).toBe(true);
    expect(matchesHostPatterns('a.b.example.com', ['*.example.com'])).toBe(true);
    expect(matchesHostPatterns('example.com', ['*.example.com'])).toBe(false);
    expect(matchesHostPatterns('anything', ['*'])).toBe(true);
    expect(matchesHostPatterns('dev', ['dev*'])).toBe(true);
  });

  it('matches `?` against exactly one character', () => {
    expect(matchesHostPatterns('dev1', ['dev?'])).toBe(true);
    expect(matchesHostPatterns('dev', ['dev?'])).toBe(false);
    expect(matchesHostPatterns('dev12', ['dev?'])).toBe(false);
  });

  it('takes other characters literally (a dot is not "any character")', () => {
    expect(matchesHostPatterns('hostXexample', ['host.example'])).toBe(false);
    expect(matchesHostPatterns('host.example', ['host.example'])).toBe(true);
    expect(matchesHostPatterns('a+b', ['a+b'])).toBe(true);
    expect(matchesHostPatterns('aab', ['a+b'])).toBe(false);
  });

  it('matches case-insensitively, as ssh lowercases host names', () => {
    expect(matchesHostPatterns('DevBox', ['devbox'])).toBe(true);
    expect(matchesHostPatterns('devbox', ['DEV*'])).toBe(true);
  });

  it('a negated pattern excludes a host whatever its position in the list', () => {
    expect(matchesHostPatterns('bastion.corp', ['*.corp', '!bastion.corp'])).toBe(false);
    expect(matchesHostPatterns('bastion.corp', ['!bastion.corp', '*.corp'])).toBe(false);
    expect(matchesHostPatterns('web.corp', ['*.corp', '!bastion.corp'])).toBe(true);
    expect(matchesHostPatterns('b1.corp', ['*.corp', '!b?.corp'])).toBe(false);
  });

  it('a negated pattern alone matches nothing (ssh_config(5): it only excludes)', () => {
    expect(matchesHostPatterns('web', ['!bastion'])).toBe(false);
  });

  it('applies a Host block listing several patterns when any of them matches', async () => {
    const lines = ['Host alpha beta', '  User shared'];
    expect((await configFor('beta', lines)).user).toBe('shared');
    expect((await configFor('gamma', lines)).user).toBeUndefined();
  });

  it('skips Match blocks until the next Host line', async () => {
    const config = await configFor('devbox', ['Match host devbox', '  User from-match', 'Host devbox', '  Port 2200']);
    expect(config.user).toBeUndefined();
    expect(config.port).toBe(2200);
  });
});

describe('values', () => {
  it('keeps the first value found for an option, across blocks in file order', async () => {
    const config = await configFor('devbox', [
      'Host devbox',
      '  User alice',
      '  User bob',
      '  Port 2222',
      'Host dev*',
      '  User carol',
      '  Port 2200',
      '  HostName never-used.example',
      'Host *',
      '  User default',
      '  HostName 10.1.2.3',
    ]);
    expect(config.user).toBe('alice');
    expect(config.port).toBe(2222);
    expect(config.hostName).toBe('never-used.example');
  });

  it('applies options above the first Host line to every host, and they win over later blocks', async () => {
    const config = await configFor('devbox', ['User global', 'Host devbox', '  User specific', '  Port 2022']);
    expect(config.user).toBe('global');
    expect(config.port).toBe(2022);
  });

  it('reads Port, User, HostName, ProxyJump, IdentitiesOnly, UserKnownHostsFile and StrictHostKeyChecking', async () => {
    const config = await configFor('gpu', [
      'Host gpu',
      '  HostName 192.0.2.10',
      '  Port 2222',
      '  User me',
      '  ProxyJump jump@bastion.example:2200',
      '  IdentitiesOnly yes',
      '  UserKnownHostsFile ~/.ssh/gpu_hosts /etc/ssh/extra_hosts',
      '  StrictHostKeyChecking Accept-New',
      '  ServerAliveInterval 30',
    ]);
    expect(config).toEqual({
      hostName: '192.0.2.10',
      port: 2222,
      user: 'me',
      proxyJump: 'jump@bastion.example:2200',
      identitiesOnly: true,
      identityFiles: [],
      userKnownHostsFiles: [path.join(home, '.ssh/gpu_hosts'), '/etc/ssh/extra_hosts'],
      strictHostKeyChecking: 'accept-new',
      serverAliveInterval: 30,
    });
  });

  it("gives ssh's defaults without a config file", () => {
    expect(readSshConfig('devbox', home)).toEqual({
      hostName: 'devbox',
      identityFiles: [],
      identitiesOnly: false,
      userKnownHostsFiles: [path.join(home, '.ssh/known_hosts'), path.join(home, '.ssh/known_hosts2')],
    });
  });

  it('takes `ProxyJump none` as no jump host, and ignores a Port that is not a number', async () => {
    const config = await configFor('direct', ['Host direct', '  ProxyJump none', '  Port ssh', 'Host *', '  ProxyJump bastion']);
    expect(config.proxyJump).toBeUndefined();
    expect(config.port).toBeUndefined();
  });

  it('reads keywords case-insensitively, `Key=Value` and `Key = Value` forms, quoted arguments and comments', async () => {
    const config = await configFor('devbox', [
      '# a comment',
      'HOST devbox',
      '  hostname=devbox.example',
      '  PORT = 2022',
      '  IdentityFile "~/.ssh/my key"',
      '',
      '  # another comment',
      '  identitiesonly YES',
    ]);
    expect(config.hostName).toBe('devbox.example');
    expect(config.port).toBe(2022);
    expect(config.identityFiles).toEqual([path.join(home, '.ssh/my key')]);
    expect(config.identitiesOnly).toBe(true);
  });

  it('keeps the first IdentitiesOnly, so a later `Host *` cannot undo it', async () => {
    const config = await configFor('devbox', ['Host devbox', '  IdentitiesOnly yes', 'Host *', '  IdentitiesOnly no']);
    expect(config.identitiesOnly).toBe(true);
  });
});

describe('IdentityFile', () => {
  it('collects every IdentityFile that applies, in order, across blocks', async () => {
    const config = await configFor('devbox', [
      'Host devbox',
      '  IdentityFile ~/.ssh/devbox_ed25519',
      '  IdentityFile ~/.ssh/devbox_rsa',
      'Host *',
      '  IdentityFile /keys/shared',
    ]);
    expect(config.identityFiles).toEqual([path.join(home, '.ssh/devbox_ed25519'), path.join(home, '.ssh/devbox_rsa'), '/keys/shared']);
  });

  it('expands ~, %h (the resolved HostName) and %d (the local home)', async () => {
    const config = await configFor('devbox', [
      'Host devbox',
      '  HostName devbox.example.com',
      '  IdentityFile ~/.ssh/%h.key',
      '  IdentityFile %d/keys/%h',
      '  IdentityFile /literal/100%%',
    ]);
    expect(config.identityFiles).toEqual([
      path.join(home, '.ssh/devbox.example.com.key'),
      path.join(home, 'keys/devbox.example.com'),
      '/literal/100%',
    ]);
  });

  it('expands %h in HostName to the alias itself', async () => {
    const config = await configFor('web', ['Host web', '  HostName %h.internal.example']);
    expect(config.hostName).toBe('web.internal.example');
  });

  it('expands %r to the remote user and %u to the local user (ssh_config(5) TOKENS)', async () => {
    const config = await configFor('devbox', [
      'Host devbox',
      '  User deploy',
      '  IdentityFile ~/.ssh/%r-remote',
      '  IdentityFile ~/.ssh/%u-local',
    ]);
    expect(config.identityFiles).toEqual([path.join(home, '.ssh/deploy-remote'), path.join(home, `.ssh/${userInfo().username}-local`)]);
  });

  it('expandTilde expands only a leading ~ or ~/', () => {
    expect(expandTilde('~', '/home/me')).toBe('/home/me');
    expect(expandTilde('~/x/y', '/home/me')).toBe('/home/me/x/y');
    expect(expandTilde('/abs/~/x', '/home/me')).toBe('/abs/~/x');
    expect(expandTilde('~other/x', '/home/me')).toBe('~other/x');
  });
});

describe('UserKnownHostsFile', () => {
  it('takes every file of the first line that sets it, and only that line (ssh readconf: a later line is ignored)', async () => {
    const config = await configFor('devbox', [
      'Host devbox',
      '  UserKnownHostsFile ~/.ssh/devbox_hosts ~/.ssh/devbox_hosts2',
      'Host *',
      '  UserKnownHostsFile ~/.ssh/known_hosts',
    ]);
    expect(config.userKnownHostsFiles).toEqual([path.join(home, '.ssh/devbox_hosts'), path.join(home, '.ssh/devbox_hosts2')]);
  });
});

describe('getOptionsForHost', () => {
  it('returns lowercased keywords with their values as written', () => {
    const options = getOptionsForHost('Host a\n  User x\n  IdentityFile k1\nHost *\n  IdentityFile k2\n  User y\n', 'a');
    expect(options.get('user')).toEqual(['x']);
    expect(options.get('identityfile')).toEqual(['k1', 'k2']);
  });
});

describe('agreement with ssh -G (OpenSSH evaluates the same file)', () => {
  const lines = [
    'User global',
    'Host devbox',
    '  HostName %h.example.com',
    '  UserKnownHostsFile ~/.ssh/devbox_hosts ~/.ssh/devbox_hosts2',
    '  ProxyJump jump@bastion:2200',
    'Host dev* !devnull',
    '  Port 2200',
    '  User carol',
    '  StrictHostKeyChecking no',
    'Host *',
    '  UserKnownHostsFile ~/.ssh/known_hosts',
    '  StrictHostKeyChecking accept-new',
  ];

  /** What `ssh -G` resolves for `host` from `file` (it expands ~ with the passwd home, not $HOME). */
  function resolveWithSsh(file: string, host: string): Map<string, string> {
    const output = execFileSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const values = new Map<string, string>();
    for (const line of output.split('\n')) {
      const space = line.indexOf(' ');
      if (space > 0 && !values.has(line.slice(0, space).toLowerCase()))
        values.set(line.slice(0, space).toLowerCase(), line.slice(space + 1));
    }
    return values;
  }

  for (const host of ['devbox', 'devnull', 'dev2', 'other']) {
    it(`resolves ${host} as ssh does`, async () => {
      const file = path.join(home, 'ssh_config');
      await writeFile(file, `${lines.join('\n')}\n`);
      const ssh = resolveWithSsh(file, host);
      const ours = readSshConfig(host, userInfo().homedir, file);
      expect({
        hostName: ours.hostName,
        user: ours.user,
        port: String(ours.port ?? 22),
        proxyJump: ours.proxyJump,
        userKnownHostsFiles: ours.userKnownHostsFiles.join(' '),
        strictHostKeyChecking: ours.strictHostKeyChecking === 'no' ? 'false' : (ours.strictHostKeyChecking ?? 'ask'),
      }).toEqual({
        hostName: ssh.get('hostname'),
        user: ssh.get('user'),
        port: ssh.get('port'),
        proxyJump: ssh.get('proxyjump'),
        userKnownHostsFiles: ssh.get('userknownhostsfile'),
        strictHostKeyChecking: ssh.get('stricthostkeychecking'),
      });
    });
  }
});
