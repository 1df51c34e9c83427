/**
 * The opt-in TCP transport: straight to a daemon's ws:// or wss:// listener, with its token.
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, SicksyncError } from '../../shared/errors.js';
import type { DestinationSpec } from '../config/types.js';
import { DaemonConnection, type HelloOptions } from './daemon-connection.js';

function readToken(file: string, id: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new SicksyncError(
      ErrorCode.USAGE,
      `${id}: cannot read the daemon token from ${file} (${(error as Error).message}). Copy ~/.sicksync/token from the host there.`,
    );
  }
}

export async function connectTcpDaemon(
  spec: DestinationSpec,
  tcp: NonNullable<DestinationSpec['tcp']>,
  hello: HelloOptions,
): Promise<DaemonConnection> {
  const token = readToken(tcp.tokenFile, spec.id);
  try {
    return await DaemonConnection.open(
      tcp.url,
      spec.id,
      { ...hello, delta: true },
      {
        headers: { Authorization: `Bearer ${token}` },
        ...(tcp.ca ? { ca: readFileSync(tcp.ca) } : {}),
      },
    );
  } catch (error) {
    if (/401/.test((error as Error).message)) {
      throw new SicksyncError(
        ErrorCode.HOST_KEY,
        `${spec.id}: the daemon refused the token in ${tcp.tokenFile}; copy the current ~/.sicksync/token from the host`,
      );
    }
    throw error;
  }
}
