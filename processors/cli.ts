import type { Command } from 'commander';
import { PATTERN_CATALOG } from './catalog.js';
// Declares the processors' env for `tickflow config`; the stage itself (./main.js) is imported when run.
import './config.js';

/** The processors stage's subcommands of the `tickflow` CLI. */
export function registerProcessorCommands(program: Command): void {
  program
    .command('process')
    .description('run the pattern processors: aggregates (and trades) in, pattern events out, exactly once')
    .option('--group <id>', 'consumer group (overrides PROCESSOR_GROUP_ID)')
    .option('--ops-port <port>', 'port of /health /ready /metrics (overrides PROCESSOR_OPS_PORT)')
    .action(async (options: { group?: string; opsPort?: string }) => {
      const { runProcessors } = await import('./main.js');
      await runProcessors({
        ...(options.group ? { group: options.group } : {}),
        ...(options.opsPort ? { opsPort: Number(options.opsPort) } : {}),
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
