/**
 * The decision on a presented host key, and the refusals a person reads: real keys from ssh-keygen,
 * real known_hosts files, and ssh-keygen -l as the oracle for fingerprints.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getFingerprint, HostKeyCheck } from '../../../src/client/ssh/host-key-check.js';
import type { SshHostConfig } from '../../../src/client/ssh/ssh-config.js';
import { ErrorCode } from '../../../src/shared/errors.js';

interface Key {
  file: string;
  text: string;
  blob: Buffer;
}

let dir = '';
let ed1: Key;
let ed2: Key;
let rsa: Key;
let home = '';

async function makeKey(name: string, type: string): Promise<Key> {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
  const [keyType, base64] = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/);
  return { file: `${file}.pub`, text: `${keyType} ${base64}`, blob: Buffer.from(base64!, 'base64') };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hkc-'));
  [ed1, ed2, rsa] = await Promise.all([makeKey('ed1', 'ed25519'), makeKey('ed2', 'ed25519'), makeKey('rsa', 'rsa')]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  home = await mkdtemp(path.join(dir, 'home-'));
});

function configWith(extra: Partial<SshHostConfig> = {}): SshHostConfig {
  return {
    hostName: '127.0.0.9',
    identityFiles: [],
    identitiesOnly: false,
    userKnownHostsFiles: [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')],
    ...extra,
  };
}

async function record(text: string, file = path.join(home, '.ssh', 'known_hosts')): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

describe('HostKeyCheck', () => {
  it('goes on for a recorded key under [host]:port', async () => {
    await record(`[127.0.0.9]:2222 ${ed1.text}\n`);
    const check = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith());
    expect(check.verify(ed1.blob)).toBe(true);
    expect(check.refusal).toBeNull();
  });

  it('refuses an unknown key naming the alias, the known_hosts file and the fingerprint ssh-keygen -l shows', () => {
    const check = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith());
    expect(check.verify(ed1.blob)).toBe(false);
    expect(check.refusal?.code).toBe(ErrorCode.HOST_KEY);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', ed1.file], { encoding: 'utf8' }).split(' ')[1]!;
    expect(getFingerprint(ed1.blob)).toBe(fingerprint);
    expect(check.refusal?.message).toContain('devbox');
    expect(check.refusal?.message).toContain(path.join(home, '.ssh', 'known_hosts'));
    expect(check.refusal?.message).toContain(fingerprint);
  });

  it('refuses a changed key naming the file and line of the recorded one and the ssh-keygen -R command', async () => {
    await record(`# hosts\n[127.0.0.9]:2222 ${ed2.text}\n`);
    const check = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith());
    expect(check.verify(ed1.blob)).toBe(false);
    expect(check.refusal?.message).toMatch(/changed/);
    expect(check.refusal?.message).toContain(`${path.join(home, '.ssh', 'known_hosts')} (line 2)`);
    expect(check.refusal?.message).toContain(`ssh-keygen -R '[127.0.0.9]:2222'`);
  });

  it('names the second known_hosts file when the recorded key is there', async () => {
    await record(`127.0.0.9 ${ed2.text}\n`, path.join(home, '.ssh', 'known_hosts2'));
    const check = new HostKeyCheck('devbox', '127.0.0.9', 22, configWith());
    expect(check.verify(ed1.blob)).toBe(false);
    expect(check.refusal?.message).toContain(`${path.join(home, '.ssh', 'known_hosts2')} (line 1)`);
  });

  it('refuses a key marked @revoked', async () => {
    await record(`127.0.0.9 ${ed1.text}\n@revoked 127.0.0.9 ${ed1.text}\n`);
    const check = new HostKeyCheck('devbox', '127.0.0.9', 22, configWith());
    expect(check.verify(ed1.blob)).toBe(false);
    expect(check.refusal?.message).toMatch(/@revoked .*\(line 2\)/);
  });

  it('with StrictHostKeyChecking no, accepts an unknown key without recording it, but still refuses a changed one', async () => {
    const unknown = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith({ strictHostKeyChecking: 'no' }));
    expect(unknown.verify(ed1.blob)).toBe(true);
    await expect(stat(path.join(home, '.ssh', 'known_hosts'))).rejects.toThrow(/ENOENT/);

    await record(`[127.0.0.9]:2222 ${ed2.text}\n`);
    const changed = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith({ strictHostKeyChecking: 'no' }));
    expect(changed.verify(ed1.blob)).toBe(false);
    expect(changed.refusal?.message).toMatch(/changed/);
  });

  it('with StrictHostKeyChecking accept-new, records an unknown key in the first file (private to the user), readable by ssh-keygen -F', async () => {
    const check = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith({ strictHostKeyChecking: 'accept-new' }));
    expect(check.verify(ed1.blob)).toBe(true);
    const file = path.join(home, '.ssh', 'known_hosts');
    expect(await readFile(file, 'utf8')).toBe(`[127.0.0.9]:2222 ${ed1.text}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.9]:2222', '-f', file], { encoding: 'utf8' })).toContain('found: line 1');

    // Recorded now: the same key goes on, another one of its type is a change.
    const again = new HostKeyCheck('devbox', '127.0.0.9', 2222, configWith({ strictHostKeyChecking: 'accept-new' }));
    expect(again.verify(ed1.blob)).toBe(true);
    expect(again.verify(ed2.blob)).toBe(false);
    expect(again.refusal?.message).toMatch(/changed/);
  });

  it('offers the recorded key types first, RSA under its SHA-2 signature names too', async () => {
    expect(new HostKeyCheck('devbox', '127.0.0.9', 22, configWith()).getAlgorithms()).toBeUndefined();
    await record(`127.0.0.9 ${ed1.text}\n127.0.0.9 ${rsa.text}\n`);
    expect(new HostKeyCheck('devbox', '127.0.0.9', 22, configWith()).getAlgorithms()).toEqual([
      'ssh-ed25519',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });
});
