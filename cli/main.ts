import { Command } from 'commander';
import { ConfigError, documentedEnv, invalidEnv } from '../platform/config.js';
import { TICKFLOW_VERSION } from '../platform/version.js';
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
import { EXIT_CODES_HELP, describeFailure, isBrokenPipe } from './exit-codes.js';
import { USAGE_ERROR_OUTPUT, helpWithEnvDefaults } from './help.js';

// `tickflow config | head -1`: a closed pipe ends the command quietly, not with an EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (isBrokenPipe(error)) process.exit(0);
    throw error;
  });
}

const program = new Command('tickflow')
  .description('Tickflow: an event-sourced real-time market-pattern pipeline')
  .version(TICKFLOW_VERSION, '-V, --version', 'print the version')
  .addHelpText('after', EXIT_CODES_HELP)
  // Set before the commands are added, so that every command inherits them.
  .configureHelp(helpWithEnvDefaults((name) => documentedEnv().find((entry) => entry.name === name)?.defaultValue))
  .configureOutput(USAGE_ERROR_OUTPUT)
  // Every command (and subcommand) reports usage errors through the handler below instead of exiting itself.
  .exitOverride();

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
  .description('list every environment variable the stages read, with its default; exit 2 when a set one is invalid')
  .option('--markdown', 'print a Markdown table (the README uses it)')
  .option('--json', 'print JSON')
  .action((options: { markdown?: boolean; json?: boolean }) => {
    const rows = documentedEnv();
    if (options.json) console.log(JSON.stringify(rows, null, 2));
    else if (options.markdown) {
      console.log('| Variable | Stage | Default | Meaning |\n|---|---|---|---|');
      for (const row of rows)
        console.log(
          `| \`${row.name}\` | ${row.stage} | ${row.defaultValue === undefined ? '' : `\`${row.defaultValue}\``} | ${row.description} |`,
        );
    } else
      for (const row of rows)
        console.log(`${row.name.padEnd(28)} ${row.stage.padEnd(12)} ${row.defaultValue ?? ''}\n    ${row.description}`);
    // After the list (which says what each variable allows), the variables set in this environment that would not parse.
    const invalid = invalidEnv();
    if (invalid.length > 0) throw new ConfigError(invalid);
  });

/** The one top-level error handler: one line, and the documented exit code (cli/exit-codes.ts). */
try {
  await program.parseAsync(process.argv);
} catch (error) {
  const { code, message } = describeFailure(error);
  if (message !== undefined) console.error(message);
  process.exit(code);
}
