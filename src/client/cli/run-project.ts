/**
 * `sicksync` and `sicksync <alias>`: sync one project, once or live until a signal.
 */
import { ErrorCode, ExitCode } from '../../shared/errors.js';
import type { ProjectConfig } from '../config/types.js';
import { ProjectSync, type RunOptions } from '../sync/project-sync.js';
import type { Reporter } from '../sync/reporter.js';

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handle = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', handle);
      process.off('SIGTERM', handle);
      resolve(signal);
    };
    process.on('SIGINT', handle);
    process.on('SIGTERM', handle);
  });
}

export async function runProject(project: ProjectConfig, options: RunOptions, reporter: Reporter): Promise<number> {
  const targets = project.destinations.map((d) => d.id).join(', ');
  reporter.info(`${project.name}: ${project.root} → ${targets}`);
  const sync = new ProjectSync(project, options, reporter);
  if (options.once) {
    await sync.start();
    const converged = sync.isConverged;
    await sync.stop();
    for (const destination of sync.destinations) {
      if (!destination.isConverged) reporter.error(`${destination.label}: not converged (${ErrorCode.NOT_CONVERGED})`);
    }
    const destinationsConverged = sync.destinations.every((destination) => destination.isConverged);
    if (converged) reporter.info('all destinations up to date');
    else if (destinationsConverged)
      reporter.info(`destinations up to date except for ${sync.problemCount} paths named above, which were not synced`);
    else reporter.info('some destinations did not converge');
    return converged ? ExitCode.OK : ExitCode.FAILURE;
  }
  const signal = waitForSignal();
  await sync.start();
  if (sync.destinations.every((destination) => destination.fatal)) {
    // Nothing left to keep in sync: watching would only look like it works.
    reporter.error('no destination can be synced; stopping');
    await sync.stop();
    return ExitCode.FAILURE;
  }
  // "watching" is said once every destination that can be synced has caught up: before that,
  // local changes are recorded and sent as soon as the destination is back.
  const live = sync.destinations.filter((destination) => !destination.fatal);
  const behind = live.filter((destination) => !destination.hasCaughtUp);
  if (behind.length > 0) {
    reporter.warn(`not caught up yet: ${behind.map((d) => d.label).join(', ')} (retrying; changes made meanwhile are kept and sent)`);
  }
  const caughtUp = Promise.all(live.map((destination) => destination.caughtUp)).then(() => 'caught-up' as const);
  if ((await Promise.race([caughtUp, signal])) === 'caught-up') {
    reporter.info('watching for changes (Ctrl-C to stop)');
    await signal;
  }
  reporter.info('stopping…');
  await sync.stop();
  return ExitCode.OK;
}
