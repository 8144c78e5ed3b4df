import type { Command } from 'commander';

/** The api stage's subcommands of the `tickflow` CLI. */
export function registerApiCommands(program: Command): void {
  program
    .command('api')
    .description('run the REST API (pattern scans, symbols, universes, auth; /openapi.json, /docs, /health, /ready, /metrics)')
    .option('--port <port>', 'listen port (default API_PORT, 3000)')
    .option('--migrate', 'bring the database schema up to date first')
    .action(async (options: { port?: string; migrate?: boolean }) => {
      const { createLogger, Lifecycle, loadPlatformConfig } = await import('../platform/index.js');
      const { startApi } = await import('./server.js');
      const platform = loadPlatformConfig();
      const logger = createLogger('api', { level: platform.LOG_LEVEL });
      if (options.migrate) {
        const { migrate } = await import('../store/migrate.js');
        const ran = await migrate(platform.DATABASE_URL);
        logger.info({ ran }, 'migrations applied');
      }
      const lifecycle = new Lifecycle(logger);
      lifecycle.installSignalHandlers();
      const api = await startApi({ logger, ...(options.port !== undefined ? { port: Number(options.port) } : {}) });
      lifecycle.onShutdown('api', () => api.stop());
    });
}
