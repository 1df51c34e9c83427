/**
 * argv → options → command. Every error ends here, and only here becomes output and an exit code.
 * Commands are imported when they run: start-up then loads only what the command needs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { ErrorCode, ExitCode, SicksyncError } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import { BIN_SCRIPT } from '../bin-path.js';
import { createConsoleReporter, printError, printLines } from './output.js';

interface SyncFlags {
  alias?: string;
  all: boolean;
  once: boolean;
  force: boolean;
  deleteExtraneous: boolean;
}

/** Flags a `-a` parent hands on to each project's child. */
function getPassThrough(flags: SyncFlags): string[] {
  return [flags.once && '--once', flags.force && '--force', flags.deleteExtraneous && '--delete-extraneous'].filter(
    (flag): flag is string => typeof flag === 'string',
  );
}

/** The project of the working folder, or the one registered under `alias`. */
async function loadFrom(alias?: string) {
  const config = await import('../config/load-project.js');
  const home = homedir();
  return alias ? config.loadProjectByAlias(alias, { home }) : config.loadProject({ cwd: process.cwd(), home });
}

/** The project a file given on the command line is in, found from its folder (the file may be gone). */
async function loadFor(file: string) {
  const { loadProject } = await import('../config/load-project.js');
  let folder = dirname(resolve(process.cwd(), file));
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  return loadProject({ cwd: folder, home: homedir() });
}

async function runSync(flags: SyncFlags): Promise<number> {
  const home = homedir();
  const reporter = createConsoleReporter();
  if (flags.all) {
    if (flags.alias) throw new SicksyncError(ErrorCode.USAGE, 'give either an alias or --all, not both');
    const { runAll } = await import('./run-all.js');
    return runAll(home, getPassThrough(flags), reporter);
  }
  const { loadProject, loadProjectByAlias } = await import('../config/load-project.js');
  const { runProject } = await import('./run-project.js');
  const project = flags.alias ? await loadProjectByAlias(flags.alias, { home }) : await loadProject({ cwd: process.cwd(), home });
  return runProject(project, { once: flags.once, force: flags.force, deleteExtraneous: flags.deleteExtraneous }, reporter);
}

/**
 * The remote commands are defined here for --help and usage errors; running them is the remote
 * program's job (src/remote/main.ts), which bin/ starts for `remote ...` without this CLI. Called
 * here directly (main() from code), they run in that program as a child, so the client never
 * loads src/remote.
 */
function defineRemote(cli: Argv, args: string[], done: (code: number) => void): Argv {
  const run = async (): Promise<void> => {
    const child = spawn(process.execPath, [BIN_SCRIPT, ...args], { stdio: 'inherit' });
    const [code] = (await once(child, 'exit')) as [number | null];
    done(code ?? ExitCode.FAILURE);
  };
  return cli
    .option('grace', {
      type: 'number',
      describe: 'ms the daemon waits after its last client before it exits (default 10000, or $SICKSYNC_DAEMON_GRACE_MS)',
    })
    .option('listen', {
      type: 'string',
      describe: 'also accept clients on ws://HOST:PORT or wss://HOST:PORT (PORT alone: ws://127.0.0.1:PORT), token required',
    })
    .option('token-file', { type: 'string', describe: 'where the TCP token is kept (default ~/.sicksync/token)' })
    .option('cert', { type: 'string', describe: 'PEM certificate for wss://' })
    .option('key', { type: 'string', describe: 'PEM private key for wss://' })
    .command(
      'daemon',
      'run the daemon in the foreground',
      (y) => y.option('detach', { type: 'boolean', hidden: true, default: false }),
      run,
    )
    .command('start-daemon', 'start the daemon detached unless one runs; print one ready line', {}, run)
    .command('stop', 'stop the daemon', {}, run)
    .command('status', 'say whether a daemon runs (exit 0) or not (exit 1)', {}, run)
    .command('bridge', "join stdin and stdout to the daemon's socket (used over SSH where forwarding is refused)", {}, run)
    .demandCommand(1, 'name a remote command: daemon, start-daemon, stop, status or bridge');
}

function buildCli(args: string[], done: (code: number) => void): Argv {
  const home = homedir();
  return yargs(args)
    .scriptName('sicksync')
    .usage('$0 [alias]\n\nKeep a project in sync with its destinations, live.')
    .command<SyncFlags>(
      '$0 [alias]',
      'sync the project of the current folder (or the one registered as ALIAS), then follow changes',
      (y) =>
        y
          .positional('alias', { type: 'string', describe: 'a project registered in ~/.sicksync-config.json' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'every active project, each in its own process' })
          .option('once', {
            type: 'boolean',
            default: false,
            describe: 'bring every destination up to date, then exit (0 when all converged)',
          })
          .option('force', { type: 'boolean', default: false, describe: 'allow a sync that deletes more than deleteGuard' })
          .option('delete-extraneous', {
            type: 'boolean',
            default: false,
            describe: 'at start, delete files that exist only at a destination (the first sync keeps them otherwise)',
          }) as unknown as Argv<SyncFlags>,
      async (argv) => done(await runSync(argv)),
    )
    .command<{ alias?: string; to?: string[] }>(
      'init',
      'write a project file here and register it in the global file',
      (y) =>
        y
          .option('alias', { type: 'string', describe: 'name to register the project under (default: folder name)' })
          .option('to', { type: 'string', array: true, describe: 'a destination; repeat for several' }) as Argv<{
          alias?: string;
          to?: string[];
        }>,
      async (argv) => {
        const { runInit } = await import('../commands/init.js');
        printLines(await runInit({ cwd: process.cwd(), home, to: argv.to ?? [], ...(argv.alias ? { alias: argv.alias } : {}) }));
        done(ExitCode.OK);
      },
    )
    .command<{ path?: string; alias?: string }>(
      'add [path]',
      'register an existing project in the global file',
      (y) => y.positional('path', { type: 'string' }).option('alias', { type: 'string' }) as Argv<{ path?: string; alias?: string }>,
      async (argv) => {
        const { runAdd } = await import('../commands/add.js');
        printLines(
          await runAdd({
            cwd: process.cwd(),
            home,
            ...(argv.path ? { path: argv.path } : {}),
            ...(argv.alias ? { alias: argv.alias } : {}),
          }),
        );
        done(ExitCode.OK);
      },
    )
    .command<{ alias: string }>(
      'remove <alias>',
      'remove a project from the global file',
      (y) => y.positional('alias', { type: 'string', demandOption: true }) as Argv<{ alias: string }>,
      async (argv) => {
        const { runRemove } = await import('../commands/remove.js');
        printLines(await runRemove({ home, alias: argv.alias }));
        done(ExitCode.OK);
      },
    )
    .command('list', 'list the projects of the global file', {}, async () => {
      const { runList } = await import('../commands/list.js');
      printLines(await runList({ home }));
      done(ExitCode.OK);
    })
    .command<{ alias?: string }>(
      'conflicts [alias]',
      'list the conflicts left open (conflictPolicy "manual") of this project, or of a registered one',
      (y) => y.positional('alias', { type: 'string' }) as Argv<{ alias?: string }>,
      async (argv) => {
        const { listConflicts } = await import('../commands/conflicts.js');
        printLines(await listConflicts(await loadFrom(argv.alias)));
        done(ExitCode.OK);
      },
    )
    .command<{ path: string; keep: 'local' | 'remote' | 'both' }>(
      'resolve <path>',
      'settle an open conflict: keep the local version, the remote one, or both (the remote one beside it)',
      (y) =>
        y.positional('path', { type: 'string', demandOption: true }).option('keep', {
          choices: ['local', 'remote', 'both'] as const,
          demandOption: true,
          describe: 'which version stays at the path',
        }) as unknown as Argv<{ path: string; keep: 'local' | 'remote' | 'both' }>,
      async (argv) => {
        const { resolveConflict } = await import('../commands/conflicts.js');
        printLines(await resolveConflict(await loadFor(argv.path), argv.path, argv.keep, process.cwd()));
        done(ExitCode.OK);
      },
    )
    .command<{ path: string }>(
      'history <path>',
      'list the versions kept of a file, here and at every destination, newest first',
      (y) => y.positional('path', { type: 'string', demandOption: true }) as Argv<{ path: string }>,
      async (argv) => {
        const { listHistory } = await import('../commands/history.js');
        printLines(await listHistory(await loadFor(argv.path), argv.path, process.cwd()));
        done(ExitCode.OK);
      },
    )
    .command<{ path: string; version: number }>(
      'restore <path>',
      'bring a kept version of a file back into the project (the newest unless --version says)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          // Here --version is the version of the file, not of sicksync.
          .version(false)
          .option('version', { type: 'number', default: 1, describe: 'the number "sicksync history" shows' }) as unknown as Argv<{
          path: string;
          version: number;
        }>,
      async (argv) => {
        if (!Number.isInteger(argv.version) || argv.version < 1) {
          throw new SicksyncError(ErrorCode.USAGE, '--version takes a version number from "sicksync history" (1 is the newest)');
        }
        const { restoreVersion } = await import('../commands/history.js');
        printLines(await restoreVersion(await loadFor(argv.path), argv.path, argv.version, process.cwd()));
        done(ExitCode.OK);
      },
    )
    .command('remote', 'the remote side: daemon | start-daemon | stop | status | bridge', (y) => defineRemote(y, args, done))
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .alias('v', 'version')
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new SicksyncError(ErrorCode.USAGE, `${message}. See "sicksync --help".`);
    });
}

export async function main(args: string[]): Promise<number> {
  let code: number = ExitCode.OK;
  try {
    await buildCli(args, (result) => {
      code = result;
    }).parseAsync();
    return code;
  } catch (error) {
    if (error instanceof SicksyncError) {
      printError(error.code, error.message);
      return error.exitCode;
    }
    process.stderr.write(`sicksync: unexpected error, please report it:\n${(error as Error).stack ?? String(error)}\n`);
    return ExitCode.FAILURE;
  }
}
