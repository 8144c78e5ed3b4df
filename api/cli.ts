import type { Command } from 'commander';
// Declares the API's env for `tickflow config`; the stage itself (./main.js) is imported when it runs.
import './config.js';

/** The api stage's subcommands of the `tickflow` CLI. */
export function registerApiCommands(program: Command): void {
  program
    .command('api')
    .description('run the REST API (pattern scans, symbols, universes, auth; /openapi.json, /docs, /health, /ready, /metrics)')
    .option('--port <port>', 'listen port (default API_PORT, 3000)')
    .option('--migrate', 'bring the database schema up to date first')
    .action(async (options: { port?: string; migrate?: boolean }) => {
      const { runApi } = await import('./main.js');
      await runApi({
        ...(options.port !== undefined ? { port: Number(options.port) } : {}),
        ...(options.migrate ? { migrate: true } : {}),
      });
    });
}
