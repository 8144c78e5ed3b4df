import type { Command } from 'commander';
import { loadPlatformConfig } from '../platform/index.js';
import { loadProjectorConfig, migrate } from '../projections/index.js';
import { applyTopicsAndSchemas } from '../stack/cli.js';

/** Topics, schemas and database migrations: what a deployment runs once before the stages. */
export async function setupPipeline(report: (line: string) => void): Promise<void> {
  await applyTopicsAndSchemas(report);
  const ran = await migrate(loadPlatformConfig().DATABASE_URL, { timescale: loadProjectorConfig().PROJECTOR_TIMESCALE, log: () => {} });
  report(ran.length > 0 ? `migrations applied: ${ran.join(', ')}` : 'database schema up to date');
}

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description('create/update topics, register schemas and run database migrations (idempotent)')
    .action(async () => {
      await setupPipeline((line) => console.log(line));
    });
}
