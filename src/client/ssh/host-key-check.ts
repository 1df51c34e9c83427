/**
 * Turns a known_hosts verdict into a decision and, when refused, an error that says what to do.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { getKeyType, getKnownHostName, readKnownHosts, verifyHostKey, getRecordedKeyTypes } from './known-hosts.js';
import type { SshHostConfig } from './ssh-config.js';

export function getFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** ssh2 negotiates host key algorithms by these names; known_hosts records key types. */
const ALGORITHMS_BY_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export class HostKeyCheck {
  readonly knownName: string;
  private readonly files: string[];
  /** Set when the last presented key was refused. */
  refusal: SicksyncError | null = null;

  constructor(
    private readonly alias: string,
    hostName: string,
    port: number,
    private readonly config: SshHostConfig,
  ) {
    this.knownName = getKnownHostName(hostName, port);
    this.files = config.userKnownHostsFiles;
  }

  /** Host key algorithms to offer: the recorded types first, so a recorded key can be checked. */
  getAlgorithms(): string[] | undefined {
    const types = getRecordedKeyTypes(readKnownHosts(this.files), this.knownName);
    if (types.length === 0) return undefined;
    return types.flatMap((type) => ALGORITHMS_BY_TYPE[type] ?? [type]);
  }

  /** ssh2's hostVerifier: true to go on; false (with `refusal` set) to drop the connection. */
  verify(blob: Buffer): boolean {
    const verdict = verifyHostKey(readKnownHosts(this.files), this.knownName, blob);
    const file = this.files[0] ?? '~/.ssh/known_hosts';
    const fingerprint = `${getKeyType(blob)} ${getFingerprint(blob)}`;
    switch (verdict.status) {
      case 'known':
        return true;
      case 'revoked':
        this.refusal = new SicksyncError(
          ErrorCode.HOST_KEY,
          `cannot reach ${this.alias}: its host key (${fingerprint}) is marked @revoked in ${verdict.match.file} (line ${verdict.match.line}). Nothing was sent.`,
        );
        return false;
      case 'changed':
        this.refusal = new SicksyncError(
          ErrorCode.HOST_KEY,
          `cannot reach ${this.alias}: its host key changed since it was recorded in ${verdict.recorded.file} (line ${verdict.recorded.line}); ` +
            `it now presents ${fingerprint}. Nothing was sent. If the host was reinstalled, remove that line ` +
            `(ssh-keygen -R '${this.knownName}') and run again.`,
        );
        return false;
      case 'unknown': {
        const strict = this.config.strictHostKeyChecking;
        if (strict === 'no' || strict === 'off') return true;
        if (strict === 'accept-new') {
          mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
          appendFileSync(file, `${this.knownName} ${getKeyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
          return true;
        }
        this.refusal = new SicksyncError(
          ErrorCode.HOST_KEY,
          `cannot reach ${this.alias}: its host key (${fingerprint}) is not in ${file}, so it cannot be verified. Nothing was sent. ` +
            `Check the fingerprint with the host's owner, then record it, e.g. by connecting once with ssh ${this.alias}.`,
        );
        return false;
      }
    }
  }
}
