import { Command } from 'commander';
import { ConfigError, documentedEnv } from '../platform/config.js';
import { KafkaAccessError } from '../platform/kafka-settings.js';
import { registerStackCommands } from '../stack/cli.js';
import { registerIngestCommands } from '../ingest/cli.js';
import { registerProcessorCommands } from '../processors/cli.js';
import { registerProjectionCommands } from '../projections/cli.js';
import { registerGatewayCommands } from '../gateway/cli.js';
import { registerApiCommands } from '../api/cli.js';
import { registerBenchCommands } from '../bench/cli.js';
import { registerReplayCommand } from './replay-command.js';
import { registerSetupCommand } from './setup-command.js';
import { registerStartCommand } from './start-command.js';
import { registerSoakCommand } from './soak-command.js';

const program = new Command('tickflow').description('Tickflow: an event-sourced real-time market-pattern pipeline').showHelpAfterError();

registerStackCommands(program);
registerIngestCommands(program);
registerProcessorCommands(program);
registerProjectionCommands(program);
registerGatewayCommands(program);
registerApiCommands(program);
registerBenchCommands(program);
registerReplayCommand(program);
registerSetupCommand(program);
registerStartCommand(program);
registerSoakCommand(program);

program
  .command('config')
  .description('list every environment variable the stages read, with its default')
  .option('--markdown', 'print a Markdown table (the README uses it)')
  .action((options: { markdown?: boolean }) => {
    const rows = documentedEnv();
    if (options.markdown) {
      console.log('| Variable | Stage | Default | Meaning |\n|---|---|---|---|');
      for (const row of rows)
        console.log(
          `| \`${row.name}\` | ${row.stage} | ${row.defaultValue === undefined ? '' : `\`${row.defaultValue}\``} | ${row.description} |`,
        );
      return;
    }
    for (const row of rows) console.log(`${row.name.padEnd(28)} ${row.stage.padEnd(12)} ${row.defaultValue ?? ''}\n    ${row.description}`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Settings no retry can fix (a bad variable, refused credentials, an untrusted certificate): one clear line and a
  // non-zero exit, not a stack trace or a process that keeps retrying.
  if (!(error instanceof ConfigError || error instanceof KafkaAccessError)) throw error;
  console.error(`tickflow: ${error.message}`);
  process.exit(1);
}
