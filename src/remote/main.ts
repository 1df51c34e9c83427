/**
 * Entry of the bundled remote program (`dist/sicksync-remote.cjs`), which the client uploads to hosts
 * that have Node.js but no sicksync. It speaks only `remote ...` and `--version`, with a parser of
 * its own so the bundle stays small and free of the CLI's presentation libraries.
 */
import { ErrorCode, ExitCode, SicksyncError } from '../shared/errors.js';
import { getHeartbeatMs, getIdleGraceMs } from '../shared/timing.js';
import { VERSION } from '../shared/version.js';
import { getDaemonStatus, runDaemon, startDaemon, stopDaemon } from './commands.js';
import { getStatePaths } from './state-dir.js';

const USAGE = 'usage: sicksync remote daemon|start-daemon|stop|status [--grace MS]';

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
  const settings = { paths, graceMs: readGrace(args), heartbeatMs: getHeartbeatMs() };
  switch (args[1]) {
    case 'daemon':
      return runDaemon(settings, args.includes('--detach'));
    case 'start-daemon':
      process.stdout.write(`${await startDaemon(settings, script)}\n`);
      return ExitCode.OK;
    case 'stop':
      process.stdout.write(`${await stopDaemon(paths)}\n`);
      return ExitCode.OK;
    case 'status': {
      const status = await getDaemonStatus(paths);
      process.stdout.write(`${status.line}\n`);
      return status.running ? ExitCode.OK : ExitCode.FAILURE;
    }
    default:
      throw new SicksyncError(ErrorCode.USAGE, USAGE);
  }
}

// Runs only as the bundle's entry (esbuild sets the require.main check for CommonJS output).
if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  runRemoteMain(process.argv.slice(2), process.argv[1] ?? '').then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof SicksyncError) {
        process.stderr.write(`sicksync: ${error.message} (${error.code})\n`);
        process.exitCode = error.exitCode;
      } else {
        process.stderr.write(`sicksync: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = ExitCode.FAILURE;
      }
    },
  );
}
