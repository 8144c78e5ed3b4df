import { Option, type Command } from 'commander';
// Declares the API's env for `tickflow config`; the stage itself (./main.js) is imported when it runs.
import { portArgument } from '../platform/cli-args.js';
import './config.js';

/** The api stage's subcommands of the `tickflow` CLI. */
export function registerApiCommands(program: Command): void {
  program
    .command('api')
    .description('run the REST API (pattern scans, symbols, universes, auth; /openapi.json, /docs, /health, /ready, /metrics)')
    .addOption(new Option('--port <port>', 'listen port').env('API_PORT').argParser(portArgument))
    .option('--migrate', 'bring the database schema up to date first')
    .action(async (options: { port?: number; migrate?: boolean }) => {
      const { runApi } = await import('./main.js');
      await runApi({
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.migrate ? { migrate: true } : {}),
      });
    });
}
