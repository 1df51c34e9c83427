/**
 * Reads ~/.ssh/config the way ssh(1) does for the options sicksync needs: the first value found for
 * an option wins, scanning `Host` blocks in order (ssh_config(5)). `Match` blocks are skipped.
 */
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';

export interface SshHostConfig {
  hostName: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly: boolean;
  proxyJump?: string;
  serverAliveInterval?: number;
  userKnownHostsFiles: string[];
  /** `no` accepts unknown keys (never changed ones); anything else refuses unknown keys. */
  strictHostKeyChecking?: string;
}

/**
 * IdentityFile accumulates across every matching line; every other option, UserKnownHostsFile
 * included, is taken from the first line that sets it (all of that line's values).
 */
const ACCUMULATED = new Set(['identityfile']);
const LISTS = new Set(['identityfile', 'userknownhostsfile']);

/** `*` and `?` wildcards; a leading `!` negates (ssh_config(5) PATTERNS). */
function matchesPattern(host: string, pattern: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(host);
}

export function matchesHostPatterns(host: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (matchesPattern(host, pattern.slice(1))) return false;
    } else if (matchesPattern(host, pattern)) {
      matched = true;
    }
  }
  return matched;
}

function splitArgs(rest: string): string[] {
  const args: string[] = [];
  for (const match of rest.matchAll(/"([^"]*)"|(\S+)/g)) args.push(match[1] ?? match[2] ?? '');
  return args;
}

export function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

/** Collects the options that apply to `host` from the text of a config file. */
export function getOptionsForHost(text: string, host: string): Map<string, string[]> {
  const options = new Map<string, string[]>();
  let active = true; // options before the first Host line apply to every host
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!match) continue;
    const key = (match[1] ?? '').toLowerCase();
    const args = splitArgs(match[2] ?? '');
    if (key === 'host') {
      active = matchesHostPatterns(host, args);
      continue;
    }
    if (key === 'match') {
      active = false;
      continue;
    }
    if (!active || args.length === 0) continue;
    const existing = options.get(key);
    if (existing && !ACCUMULATED.has(key)) continue;
    options.set(key, [...(existing ?? []), ...(LISTS.has(key) ? args : [args.join(' ')])]);
  }
  return options;
}

function expandTokens(value: string, host: string, hostName: string, user: string | undefined, home: string): string {
  return value.replace(/%([%hndru])/g, (_all, token: string) => {
    switch (token) {
      case 'h':
        return hostName;
      case 'n':
        return host;
      case 'd':
        return home;
      case 'r':
        return user ?? userInfo().username;
      case 'u':
        return userInfo().username; // the local user, whatever User says
      default:
        return '%';
    }
  });
}

export function readSshConfig(host: string, home: string = homedir(), file = join(home, '.ssh', 'config')): SshHostConfig {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No config file: ssh's defaults.
  }
  const options = getOptionsForHost(text, host);
  const first = (key: string): string | undefined => options.get(key)?.[0];
  const hostName = expandTokens(first('hostname') ?? host, host, host, undefined, home);
  const user = first('user');
  const port = first('port');
  const alive = first('serveraliveinterval');
  const resolvePath = (path: string): string => {
    const expanded = expandTilde(expandTokens(path, host, hostName, user, home), home);
    return isAbsolute(expanded) ? expanded : join(home, '.ssh', expanded);
  };
  const config: SshHostConfig = {
    hostName,
    identityFiles: (options.get('identityfile') ?? []).map(resolvePath),
    identitiesOnly: first('identitiesonly')?.toLowerCase() === 'yes',
    userKnownHostsFiles: (options.get('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map(resolvePath),
  };
  if (user) config.user = user;
  if (port && /^\d+$/.test(port)) config.port = Number(port);
  const proxyJump = first('proxyjump');
  if (proxyJump && proxyJump.toLowerCase() !== 'none') config.proxyJump = proxyJump;
  if (alive && /^\d+$/.test(alive)) config.serverAliveInterval = Number(alive);
  const strict = first('stricthostkeychecking');
  if (strict) config.strictHostKeyChecking = strict.toLowerCase();
  return config;
}
