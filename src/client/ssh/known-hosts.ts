/**
 * Host key verification against known_hosts files, as ssh(1) does it (sshd(8) "SSH_KNOWN_HOSTS FILE
 * FORMAT"): plain and wildcard patterns, `[host]:port` for non-standard ports, hashed `|1|salt|hmac`
 * names, and `@revoked` markers. `@cert-authority` lines are not supported and never match.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { matchesHostPatterns } from './ssh-config.js';

export interface KnownHostLine {
  file: string;
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  hosts: string;
  keyType: string;
  key: Buffer;
}

export type HostKeyVerdict =
  | { status: 'known'; match: KnownHostLine }
  | { status: 'unknown' }
  | { status: 'changed'; recorded: KnownHostLine }
  | { status: 'revoked'; match: KnownHostLine };

/** The name ssh records a host under: `host`, or `[host]:port` when the port is not 22. */
export function getKnownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function getKeyType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

export function parseKnownHosts(text: string, file: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields.length === 0 || fields[0] === '' || fields[0]?.startsWith('#')) return;
    const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? fields.shift() : '';
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) return;
    lines.push({ file, line: index + 1, marker: marker as KnownHostLine['marker'], hosts, keyType, key: Buffer.from(key, 'base64') });
  });
  return lines;
}

function matchesHashed(entry: string, name: string): boolean {
  const [, magic, salt, hash] = entry.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

export function matchesHost(line: KnownHostLine, name: string): boolean {
  if (line.hosts.startsWith('|')) return matchesHashed(line.hosts, name);
  return matchesHostPatterns(name, line.hosts.split(','));
}

export function readKnownHosts(files: readonly string[]): KnownHostLine[] {
  return files.flatMap((file) => {
    try {
      return parseKnownHosts(readFileSync(file, 'utf8'), file);
    } catch {
      return [];
    }
  });
}

/** The verdict for a host key (its wire-format blob) presented by `name`. */
export function verifyHostKey(lines: readonly KnownHostLine[], name: string, blob: Buffer): HostKeyVerdict {
  const forHost = lines.filter((line) => line.marker !== '@cert-authority' && matchesHost(line, name));
  const revoked = forHost.find((line) => line.marker === '@revoked' && line.key.equals(blob));
  if (revoked) return { status: 'revoked', match: revoked };
  const match = forHost.find((line) => line.marker === '' && line.key.equals(blob));
  if (match) return { status: 'known', match };
  const sameType = forHost.find((line) => line.marker === '' && line.keyType === getKeyType(blob));
  return sameType ? { status: 'changed', recorded: sameType } : { status: 'unknown' };
}

/** Key types recorded for a host, so the server is asked for one we can check. */
export function getRecordedKeyTypes(lines: readonly KnownHostLine[], name: string): string[] {
  return [...new Set(lines.filter((line) => line.marker === '' && matchesHost(line, name)).map((line) => line.keyType))];
}
