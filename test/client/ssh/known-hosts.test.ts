/**
 * known_hosts as ssh(1) reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), with real keys and real
 * hashed entries made by ssh-keygen; `ssh-keygen -F` is the oracle for which line a name matches.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  getKeyType,
  getKnownHostName,
  getRecordedKeyTypes,
  matchesHost,
  parseKnownHosts,
  readKnownHosts,
  verifyHostKey,
} from '../../../src/client/ssh/known-hosts.js';

interface Key {
  /** `type base64`, as a known_hosts line holds it. */
  text: string;
  type: string;
  /** The wire-format blob a server presents. */
  blob: Buffer;
}

let dir = '';
let ed1: Key;
let ed2: Key;
let ecdsa: Key;
let rsa: Key;

async function makeKey(name: string, type: string): Promise<Key> {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'test-key', '-f', file]);
  const [keyType, base64] = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/);
  return { text: `${keyType} ${base64}`, type: keyType!, blob: Buffer.from(base64!, 'base64') };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'known-'));
  [ed1, ed2, ecdsa, rsa] = await Promise.all([
    makeKey('ed1', 'ed25519'),
    makeKey('ed2', 'ed25519'),
    makeKey('ecdsa', 'ecdsa'),
    makeKey('rsa', 'rsa'),
  ]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FILE = '/home/me/.ssh/known_hosts';
const lines = (...text: string[]) => parseKnownHosts(`${text.join('\n')}\n`, FILE);

/** The line numbers ssh-keygen -F finds for `name` in `file` ("# Host name found: line N"). */
function findWithSshKeygen(file: string, name: string): number[] {
  let output = '';
  try {
    output = execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // exit 1: not found
  }
  return [...output.matchAll(/found: line (\d+)/g)].map((match) => Number(match[1]));
}

describe('getKnownHostName', () => {
  it('is the bare host on port 22 and [host]:port elsewhere', () => {
    expect(getKnownHostName('devbox.example', 22)).toBe('devbox.example');
    expect(getKnownHostName('127.0.0.5', 2222)).toBe('[127.0.0.5]:2222');
  });
});

describe('getKeyType', () => {
  it('reads the type from the key blob', () => {
    expect(getKeyType(ed1.blob)).toBe('ssh-ed25519');
    expect(getKeyType(rsa.blob)).toBe('ssh-rsa');
    expect(getKeyType(ecdsa.blob)).toBe(ecdsa.type);
    expect(getKeyType(Buffer.alloc(2))).toBe('');
  });
});

describe('verifyHostKey', () => {
  it('knows a plain host entry, and nothing about other names', () => {
    const known = lines(`devbox.example ${ed1.text}`);
    expect(verifyHostKey(known, 'devbox.example', ed1.blob)).toMatchObject({ status: 'known', match: { line: 1, file: FILE } });
    expect(verifyHostKey(known, 'other.example', ed1.blob)).toEqual({ status: 'unknown' });
  });

  it('knows every name of a comma list', () => {
    const known = lines(`devbox,devbox.example,192.0.2.7 ${ed1.text}`);
    for (const name of ['devbox', 'devbox.example', '192.0.2.7']) expect(verifyHostKey(known, name, ed1.blob).status, name).toBe('known');
    expect(verifyHostKey(known, 'devbox.exampl', ed1.blob).status).toBe('unknown');
  });

  it('tells [host]:port from the bare host: a non-standard port needs its own entry', () => {
    const known = lines(`[192.0.2.7]:2222 ${ed1.text}`, `192.0.2.8 ${ed1.text}`);
    expect(verifyHostKey(known, getKnownHostName('192.0.2.7', 2222), ed1.blob).status).toBe('known');
    expect(verifyHostKey(known, getKnownHostName('192.0.2.7', 22), ed1.blob).status).toBe('unknown');
    expect(verifyHostKey(known, getKnownHostName('192.0.2.7', 2200), ed1.blob).status).toBe('unknown');
    expect(verifyHostKey(known, getKnownHostName('192.0.2.8', 2222), ed1.blob).status).toBe('unknown');
  });

  it('matches wildcard entries (`*`, `?`) and honours a negated name', () => {
    const known = lines(`*.example.com,!bad.example.com ${ed1.text}`, `10.0.0.? ${ed2.text}`);
    expect(verifyHostKey(known, 'web.example.com', ed1.blob).status).toBe('known');
    expect(verifyHostKey(known, 'bad.example.com', ed1.blob).status).toBe('unknown');
    expect(verifyHostKey(known, 'example.com', ed1.blob).status).toBe('unknown');
    expect(verifyHostKey(known, '10.0.0.5', ed2.blob).status).toBe('known');
    expect(verifyHostKey(known, '10.0.0.55', ed2.blob).status).toBe('unknown');
  });

  it('reports a different key of the same type as changed, with the file and line of the recorded one', () => {
    const known = lines('# my hosts', '', `other ${ed2.text}`, `devbox ${ed1.text}`);
    const verdict = verifyHostKey(known, 'devbox', ed2.blob);
    expect(verdict).toMatchObject({ status: 'changed', recorded: { file: FILE, line: 4, hosts: 'devbox', keyType: 'ssh-ed25519' } });
  });

  it('takes a key of a type not recorded for the host as unknown, not changed', () => {
    const known = lines(`devbox ${ecdsa.text}`);
    expect(verifyHostKey(known, 'devbox', ed1.blob)).toEqual({ status: 'unknown' });
  });

  it('accepts any of several keys recorded for a host, whatever their order', () => {
    const known = lines(`devbox ${ecdsa.text}`, `devbox ${ed2.text}`, `devbox ${ed1.text}`);
    // ed2 and ed1 are both recorded: neither is "changed".
    expect(verifyHostKey(known, 'devbox', ed1.blob)).toMatchObject({ status: 'known', match: { line: 3 } });
    expect(verifyHostKey(known, 'devbox', ecdsa.blob)).toMatchObject({ status: 'known', match: { line: 1 } });
  });

  it('refuses a key marked @revoked, for any host it names, even when it is also recorded', () => {
    const known = lines(`devbox ${ed1.text}`, `@revoked * ${ed1.text}`);
    expect(verifyHostKey(known, 'devbox', ed1.blob)).toMatchObject({ status: 'revoked', match: { line: 2, marker: '@revoked' } });
    expect(verifyHostKey(known, 'anything', ed1.blob).status).toBe('revoked');
    expect(verifyHostKey(known, 'devbox', ed2.blob).status).toBe('changed');
  });

  it('never matches an @cert-authority line (not supported)', () => {
    const known = lines(`@cert-authority *.example.com ${ed1.text}`);
    expect(verifyHostKey(known, 'web.example.com', ed1.blob)).toEqual({ status: 'unknown' });
    expect(getRecordedKeyTypes(known, 'web.example.com')).toEqual([]);
  });

  it('is unknown with no entries at all', () => {
    expect(verifyHostKey([], 'devbox', ed1.blob)).toEqual({ status: 'unknown' });
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank and short lines, keeps line numbers, and ignores trailing comments and tabs', () => {
    const parsed = parseKnownHosts(
      `# comment\n\n   \ngarbage\ndevbox\t${ed1.text.replace(' ', '\t')}  a comment here\r\n  devbox2 ${ed2.text}\n`,
      FILE,
    );
    expect(parsed.map(({ line, hosts, keyType }) => ({ line, hosts, keyType }))).toEqual([
      { line: 5, hosts: 'devbox', keyType: 'ssh-ed25519' },
      { line: 6, hosts: 'devbox2', keyType: 'ssh-ed25519' },
    ]);
    expect(parsed[0]!.key.equals(ed1.blob)).toBe(true);
  });
});

describe('hashed entries (ssh-keygen -H)', () => {
  it('matches |1|salt|hmac entries made by ssh-keygen for plain and [host]:port names, as ssh-keygen -F does', async () => {
    const file = path.join(dir, 'hashed_hosts');
    const plain = [`devbox.example ${ed1.text}`, `[127.0.0.9]:2222 ${ed2.text}`, `alpha,beta ${ecdsa.text}`];
    await writeFile(file, `${plain.join('\n')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = await readFile(file, 'utf8');
    // Every name was hashed (the comma list into one line per name).
    expect(text).not.toMatch(/devbox|127\.0\.0\.9|alpha|beta/);
    const known = readKnownHosts([file]);
    expect(known.every((line) => line.hosts.startsWith('|1|'))).toBe(true);

    const cases: [string, Key, string][] = [
      ['devbox.example', ed1, 'known'],
      [getKnownHostName('127.0.0.9', 2222), ed2, 'known'],
      ['alpha', ecdsa, 'known'],
      ['beta', ecdsa, 'known'],
      ['127.0.0.9', ed2, 'unknown'],
      ['devbox', ed1, 'unknown'],
      ['devbox.example', ed2, 'changed'],
    ];
    for (const [name, key, status] of cases) {
      const verdict = verifyHostKey(known, name, key.blob);
      expect(verdict.status, name).toBe(status);
      const ours = verdict.status === 'known' ? [verdict.match.line] : verdict.status === 'changed' ? [verdict.recorded.line] : [];
      expect(ours, `${name}: the line ssh-keygen -F finds`).toEqual(findWithSshKeygen(file, name));
    }
  });

  it('does not take a hashed entry for a plain name that merely contains `|`', () => {
    const [line] = lines(`|1|bm90LWEtc2FsdA==|bm90LWEtaGFzaA== ${ed1.text}`);
    expect(matchesHost(line!, '|1|bm90LWEtc2FsdA==|bm90LWEtaGFzaA==')).toBe(false);
  });
});

describe('readKnownHosts and getRecordedKeyTypes', () => {
  it("reads several files in order, naming each line's file, and skips a missing one", async () => {
    const first = path.join(dir, 'first_hosts');
    const second = path.join(dir, 'second_hosts');
    await writeFile(first, `devbox ${ed1.text}\n`);
    await writeFile(second, `# second\ndevbox ${rsa.text}\nother ${ecdsa.text}\n`);
    const known = readKnownHosts([path.join(dir, 'missing'), first, second]);
    expect(known.map(({ file, line }) => `${path.basename(file)}:${line}`)).toEqual(['first_hosts:1', 'second_hosts:2', 'second_hosts:3']);
    expect(verifyHostKey(known, 'devbox', rsa.blob)).toMatchObject({ status: 'known', match: { file: second, line: 2 } });
    expect(getRecordedKeyTypes(known, 'devbox')).toEqual(['ssh-ed25519', 'ssh-rsa']);
    expect(getRecordedKeyTypes(known, 'nobody')).toEqual([]);
  });
});
