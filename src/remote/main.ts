/**
 * Entry of the bundled remote program (`dist/sicksync-remote.cjs`), which the client uploads to hosts
 * that have Node.js but no sicksync. It speaks only `remote ...` and `--version`, with a parser of
 * its own so the bundle stays small and free of the CLI's presentation libraries.
 */
import { ErrorCode, ExitCode, SicksyncError } from '../shared/errors.js';
import { getHeartbeatMs, getIdleGraceMs } from '../shared/timing.js';
import { VERSION } from '../shared/version.js';
import { runBridge } from './bridge.js';
import { getDaemonStatus, runDaemon, startDaemon, stopDaemon } from './commands.js';
import { getStatePaths } from '../shared/state-dir.js';
import { getListenOptions } from './tcp-listener.js';

const USAGE =
  'usage: sicksync remote daemon|start-daemon|stop|status|bridge [--grace MS] [--listen ws://HOST:PORT|wss://HOST:PORT --cert PEM --key PEM] [--token-file FILE]';

function readOption(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new SicksyncError(ErrorCode.USAGE, `${name} needs a value. ${USAGE}`);
  return value;
}

function readGrace(args: string[]): number {
  const at = args.indexOf('--grace');
  if (at === -1) return getIdleGraceMs();
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 0) throw new SicksyncError(ErrorCode.USAGE, `--grace needs a whole number of ms. ${USAGE}`);
  return value;
}

export async function runRemoteMain(args: string[], script: string): Promise<number> {
  if (args[0] === '--version' || args[0] === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return ExitCode.OK;
  }
  if (args[0] !== 'remote') throw new SicksyncError(ErrorCode.USAGE, `this is the remote part of sicksync only. ${USAGE}`);
  const paths = getStatePaths();
  const listen = getListenOptions(
    {
      listen: readOption(args, '--listen'),
      tokenFile: readOption(args, '--token-file'),
      cert: readOption(args, '--cert'),
      key: readOption(args, '--key'),
    },
    paths,
  );
  const settings = { paths, graceMs: readGrace(args), heartbeatMs: getHeartbeatMs(), ...(listen ? { listen } : {}) };
  switch (args[1]) {
    case 'daemon':
      return runDaemon(settings, args.includes('--detach'));
    case 'start-daemon':
      process.stdout.write(`${await startDaemon(settings, script)}\n`);
      return ExitCode.OK;
    case 'stop':
      process.stdout.write(`${await stopDaemon(paths)}\n`);
      return ExitCode.OK;
    case 'bridge':
      return runBridge(paths);
    case 'status': {
      const status = await getDaemonStatus(paths);
      process.stdout.write(`${status.line}\n`);
      return status.running ? ExitCode.OK : ExitCode.FAILURE;
    }
    case undefined:
      throw new SicksyncError(ErrorCode.USAGE, `name a remote command: daemon, start-daemon, stop, status or bridge. ${USAGE}`);
    default:
      throw new SicksyncError(ErrorCode.USAGE, `unknown remote command ${JSON.stringify(args[1])}. ${USAGE}`);
  }
}

/** Runs a remote command and turns errors into output and an exit code (no stack for expected ones). */
export async function runRemoteEntry(args: string[], script: string): Promise<number> {
  try {
    return await runRemoteMain(args, script);
  } catch (error) {
    if (error instanceof SicksyncError) {
      process.stderr.write(`sicksync: ${error.message} (${error.code})\n`);
      return error.exitCode;
    }
    process.stderr.write(`sicksync: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.FAILURE;
  }
}

// Runs only as the bundle's entry (CommonJS output, where require.main is this module).
if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  void runRemoteEntry(process.argv.slice(2), process.argv[1] ?? '').then((code) => {
    process.exitCode = code;
  });
}
