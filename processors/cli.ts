import { Option, type Command } from 'commander';
import { portArgument } from '../platform/cli-args.js';
import { PATTERN_CATALOG } from './catalog.js';
// Declares the processors' env for `tickflow config`; the stage itself (./main.js) is imported when run.
import './config.js';

/** The processors stage's subcommands of the `tickflow` CLI. */
export function registerProcessorCommands(program: Command): void {
  program
    .command('process')
    .description('run the pattern processors: aggregates (and trades) in, pattern events out, exactly once')
    .addOption(new Option('--group <id>', 'consumer group').env('PROCESSOR_GROUP_ID'))
    .addOption(new Option('--ops-port <port>', 'port of /health /ready /metrics').env('PROCESSOR_OPS_PORT').argParser(portArgument))
    .action(async (options: { group?: string; opsPort?: number }) => {
      const { runProcessors } = await import('./main.js');
      await runProcessors({
        ...(options.group ? { group: options.group } : {}),
        ...(options.opsPort !== undefined ? { opsPort: options.opsPort } : {}),
      });
    });

  program
    .command('patterns')
    .description('list the pattern catalog (name, version, tiers, definition)')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      if (options.json) {
        console.log(JSON.stringify(PATTERN_CATALOG, null, 2));
        return;
      }
      process.stdout.write(
        PATTERN_CATALOG.map(
          (entry) => `${entry.name.padEnd(28)} v${entry.version}  ${entry.tiers.join('/').padEnd(15)} ${entry.summary}\n`,
        ).join(''),
      );
    });
}
