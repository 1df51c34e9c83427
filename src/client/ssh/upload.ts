/**
 * Puts our remote program on a host over SFTP, once per version: it is written under a temporary name
 * and renamed into place, and reused as long as the digest recorded next to it matches.
 */
import type { SFTPWrapper } from 'ssh2';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { SshSession } from './ssh-session.js';

function call<T>(run: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

async function readText(sftp: SFTPWrapper, path: string): Promise<string | null> {
  try {
    const buffer = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      sftp
        .createReadStream(path)
        .on('data', (chunk: Buffer) => chunks.push(chunk))
        .on('end', () => resolve(Buffer.concat(chunks)))
        .on('error', reject);
    });
    return buffer.toString('utf8').trim();
  } catch {
    return null;
  }
}

async function writeFileAtomically(sftp: SFTPWrapper, path: string, content: Buffer | string, mode: number): Promise<void> {
  const temp = `${path}.upload-${process.pid}`;
  await new Promise<void>((resolve, reject) => {
    const stream = sftp.createWriteStream(temp, { mode });
    stream.on('error', reject); // `on`: a second error (the channel dying after the first) must not go unhandled
    stream.once('close', () => resolve());
    stream.end(content);
  });
  // posix-rename@openssh.com replaces an existing file atomically; plain SFTP rename would refuse.
  await call((done) => sftp.ext_openssh_rename(temp, path, done));
}

async function makeFolders(sftp: SFTPWrapper, folders: string[]): Promise<void> {
  for (const folder of folders) {
    await call((done) => sftp.mkdir(folder, { mode: 0o700 }, done)).catch(async (error: unknown) => {
      const exists = await call((done) => sftp.stat(folder, done)).then(
        () => true,
        () => false,
      );
      if (!exists) throw error;
    });
  }
}

export async function uploadFile(session: SshSession, content: Buffer, target: string, digest: string): Promise<void> {
  const sftp = await session.sftp();
  // The SFTP channel errors when its connection dies mid-upload; the pending call fails with it.
  sftp.on('error', () => undefined);
  try {
    if ((await readText(sftp, `${target}.sha256`)) === digest) return;
    const folder = target.slice(0, target.lastIndexOf('/'));
    const stateFolder = folder.slice(0, folder.lastIndexOf('/'));
    await makeFolders(sftp, [stateFolder, folder]);
    await writeFileAtomically(sftp, target, content, 0o600);
    await writeFileAtomically(sftp, `${target}.sha256`, `${digest}\n`, 0o600);
  } catch (error) {
    if (error instanceof SicksyncError) throw error;
    throw new SicksyncError(ErrorCode.SSH, `cannot upload sicksync to ${session.label} (${target}): ${(error as Error).message}`);
  } finally {
    sftp.end();
  }
}
