/**
 * What the client learns of, and does to, a host before syncing: where its home is, which node and
 * sicksync it has, and how to start a daemon there (the installed sicksync of the same version, or
 * our own bundled remote program uploaded over SFTP).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import { getHeartbeatMs, getIdleGraceMs } from '../../shared/timing.js';
import { VERSION } from '../../shared/version.js';
import { getPackageFile } from '../../shared/package-root.js';
import { READY_PREFIX } from '../../shared/remote-contract.js';
import type { SshSession } from './ssh-session.js';
import { uploadFile } from './upload.js';

/** The remote program, bundled into one file for hosts without sicksync (scripts/bundle.js). */
const BUNDLE = getPackageFile('dist', 'sicksync-remote.cjs');
const MIN_NODE_MAJOR = 18;
const PROBE_PREFIX = 'SICKSYNC_PROBE ';

export interface RemoteInfo {
  home: string;
  nodeVersion: string | null;
  sicksyncVersion: string | null;
}

export function quoteShell(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * One round trip that answers everything; lines are marked so that whatever the user's shell
 * start-up files print cannot be mistaken for an answer.
 */
const PROBE_SCRIPT = [
  `printf '${PROBE_PREFIX}home %s\\n' "$HOME"`,
  // `node --version` answers before the JavaScript engine starts: a few ms, not the 40 of `node -p`.
  `if command -v node >/dev/null 2>&1; then v=$(node --version 2>/dev/null); printf '${PROBE_PREFIX}node %s\\n' "\${v#v}"; fi`,
  `if command -v sicksync >/dev/null 2>&1; then printf '${PROBE_PREFIX}sicksync %s\\n' "$(sicksync --version 2>/dev/null)"; fi`,
].join('; ');

export async function probeHost(session: SshSession): Promise<RemoteInfo> {
  const result = await session.exec(`sh -c ${quoteShell(PROBE_SCRIPT)}`);
  const values = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith(PROBE_PREFIX)) continue;
    const [key, ...rest] = line.slice(PROBE_PREFIX.length).split(' ');
    if (key) values.set(key, rest.join(' ').trim());
  }
  const home = values.get('home');
  if (!home?.startsWith('/')) {
    throw new SicksyncError(
      ErrorCode.SSH,
      `cannot find the home folder on ${session.label} (exit ${result.code}): ${result.stderr.trim() || 'no answer'}. ` +
        'sicksync runs commands over SSH there; a ForceCommand in sshd_config or a command= on this key in ~/.ssh/authorized_keys replaces them.',
    );
  }
  return { home, nodeVersion: values.get('node') || null, sicksyncVersion: values.get('sicksync') || null };
}

function getNodeMajor(version: string | null): number {
  return version ? Number(version.split('.')[0]) : 0;
}

/** The command that runs sicksync's remote side on this host, uploading it first if needed. */
export async function getRemoteProgram(session: SshSession, info: RemoteInfo): Promise<string> {
  if (info.sicksyncVersion === VERSION) return 'sicksync';
  if (getNodeMajor(info.nodeVersion) < MIN_NODE_MAJOR) {
    const found = info.nodeVersion ? `Node.js ${info.nodeVersion}, which is too old` : 'no node on its PATH';
    throw new SicksyncError(
      ErrorCode.REMOTE_NODE,
      `cannot start sicksync on ${session.label}: it has ${found} and no sicksync ${VERSION}. Install Node.js ${MIN_NODE_MAJOR} or newer there ` +
        '(for a non-interactive SSH session it must be on the PATH that ~/.bashrc or /etc/environment sets).',
    );
  }
  const content = readFileSync(BUNDLE);
  const digest = createHash('sha256').update(content).digest('hex');
  const target = `${info.home}/.sicksync/${VERSION}/sicksync-remote.cjs`;
  await uploadFile(session, content, target, digest);
  return `node ${quoteShell(target)}`;
}

/** Runs `start-daemon` there and waits for its one ready line; everything else it prints is ignored. */
export async function startRemoteDaemon(session: SshSession, program: string): Promise<void> {
  const env = `SICKSYNC_HEARTBEAT_MS=${getHeartbeatMs()}`;
  const result = await session.exec(`${env} ${program} remote start-daemon --grace ${getIdleGraceMs()}`);
  if (result.code === 0 && result.stdout.split('\n').some((line) => line.startsWith(READY_PREFIX))) return;
  const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
  throw new SicksyncError(ErrorCode.DAEMON_START, `could not start the daemon on ${session.label} (exit ${result.code}): ${detail}`);
}
