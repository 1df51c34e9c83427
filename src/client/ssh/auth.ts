/**
 * The authentication methods to try, in ssh's order: the agent, then identity files. A key that needs
 * a passphrase is skipped (with a note) unless a person is at the terminal to type it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { SshHostConfig } from './ssh-config.js';

type AuthMethod =
  { type: 'agent'; username: string; agent: string } | { type: 'publickey'; username: string; key: Buffer; passphrase?: string };

export type PassphrasePrompt = (keyFile: string) => Promise<string | null>;

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export interface AuthPlan {
  methods: AuthMethod[];
  /** What was skipped and why, for the error message when nothing worked. */
  skipped: string[];
  tried: string[];
}

function isEncrypted(key: Buffer): boolean {
  const parsed = ssh2.utils.parseKey(key);
  return parsed instanceof Error && /passphrase|encrypted/i.test(parsed.message);
}

export async function getAuthPlan(
  config: SshHostConfig,
  username: string,
  home: string,
  prompt: PassphrasePrompt | null,
): Promise<AuthPlan> {
  const plan: AuthPlan = { methods: [], skipped: [], tried: [] };
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent && !config.identitiesOnly) {
    plan.methods.push({ type: 'agent', username, agent });
    plan.tried.push('ssh-agent');
  }
  const files = config.identityFiles.length > 0 ? config.identityFiles : DEFAULT_KEYS.map((name) => join(home, '.ssh', name));
  for (const file of files) {
    if (!existsSync(file)) continue;
    let key: Buffer;
    try {
      key = readFileSync(file);
    } catch (error) {
      plan.skipped.push(`${file} (${(error as Error).message})`);
      continue;
    }
    if (!isEncrypted(key)) {
      plan.methods.push({ type: 'publickey', username, key });
      plan.tried.push(file);
      continue;
    }
    const passphrase = prompt ? await prompt(file) : null;
    if (passphrase === null) {
      plan.skipped.push(`${file} (needs a passphrase: add it to ssh-agent with ssh-add)`);
      continue;
    }
    plan.methods.push({ type: 'publickey', username, key, passphrase });
    plan.tried.push(file);
  }
  return plan;
}
