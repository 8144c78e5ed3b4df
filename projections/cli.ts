import { Argument, Option, type Command } from 'commander';
import { isDbProjectionName, DB_PROJECTION_NAMES } from './core.js';
// Declares the projector's env for `tickflow config`; the stage itself (./main.js) is imported when it runs.
import './config.js';

/** The projections stage's subcommands of the `tickflow` CLI. */
export function registerProjectionCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if needed and apply every pending migration (node-pg-migrate; re-running is a no-op)')
    .addOption(new Option('--timescale <mode>', 'storage path of the migrations').env('PROJECTOR_TIMESCALE').choices(['auto', 'on', 'off']))
    .option('--down', 'undo the last migration instead')
    .action(async (options: { timescale?: string; down?: boolean }) => {
      const { runMigrate } = await import('./main.js');
      await runMigrate(options);
    });

  program
    .command('project')
    .description('run the projector: Kafka -> PostgreSQL (COPY, exactly once) and the Redis read model, until SIGTERM')
    .addOption(new Option('--projections <list>', 'comma-separated subset of patterns,bars,reference,redis').env('PROJECTOR_PROJECTIONS'))
    .action(async (options: { projections?: string }) => {
      const { runProjector } = await import('./main.js');
      await runProjector(
        options.projections === undefined ? {} : { projections: options.projections.split(',').map((name) => name.trim()) },
      );
    });

  program
    .command('rebuild')
    .description('replay a projection from the start of its topics into fresh tables, then swap them in atomically')
    .addArgument(new Argument('<projection>', 'the projection to rebuild').choices([...DB_PROJECTION_NAMES, 'redis']))
    .action(async (projection: string) => {
      if (!isDbProjectionName(projection) && projection !== 'redis') return; // commander checked the choices
      const { runRebuild } = await import('./main.js');
      await runRebuild(projection);
    });
}
