import type { Command } from 'commander';
import { isDbProjectionName, DB_PROJECTION_NAMES } from './core.js';
// Declares the projector's env for `tickflow config`; the stage itself (./main.js) is imported when it runs.
import './config.js';

/** The projections stage's subcommands of the `tickflow` CLI. */
export function registerProjectionCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if needed and apply every pending migration (node-pg-migrate; re-running is a no-op)')
    .option('--timescale <mode>', 'auto | on | off (default: PROJECTOR_TIMESCALE)')
    .option('--down', 'undo the last migration instead')
    .action(async (options: { timescale?: string; down?: boolean }) => {
      const { runMigrate } = await import('./main.js');
      await runMigrate(options);
    });

  program
    .command('project')
    .description('run the projector: Kafka -> PostgreSQL (COPY, exactly once) and the Redis read model, until SIGTERM')
    .option('--projections <list>', 'comma-separated subset of patterns,bars,reference,redis (default: PROJECTOR_PROJECTIONS)')
    .action(async (options: { projections?: string }) => {
      const { runProjector } = await import('./main.js');
      await runProjector(
        options.projections === undefined ? {} : { projections: options.projections.split(',').map((name) => name.trim()) },
      );
    });

  program
    .command('rebuild')
    .description('replay a projection from the start of its topics into fresh tables, then swap them in atomically')
    .argument('<projection>', [...DB_PROJECTION_NAMES, 'redis'].join(' | '))
    .action(async (projection: string) => {
      if (!isDbProjectionName(projection) && projection !== 'redis')
        throw new Error(`unknown projection ${projection}; one of ${[...DB_PROJECTION_NAMES, 'redis'].join(', ')}`);
      const { runRebuild } = await import('./main.js');
      await runRebuild(projection);
    });
}
