import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

/** Every migration of the project (projections' and the API's) lives here as a SQL file. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export type TimescaleMode = 'auto' | 'on' | 'off';

export interface MigrateOptions {
  /** `auto` (default) uses TimescaleDB when the server offers it; `off` forces plain partitioned tables. */
  readonly timescale?: TimescaleMode;
  readonly direction?: 'up' | 'down';
  /** Number of migrations to run (default: all for up, 1 for down). */
  readonly count?: number;
  /** Receives the runner's progress lines; silent by default. */
  readonly log?: (message: string) => void;
}

/**
 * Brings the database schema up to date with node-pg-migrate (its table `pgmigrations` records what ran,
 * so re-running is a no-op; an advisory lock serialises concurrent runs). Returns the names of the migrations run.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.log ?? (() => {});
  const direction = options.direction ?? 'up';
  const ran = await runner({
    // The session setting is read by the first migration to choose the storage path.
    databaseUrl: { connectionString: databaseUrl, options: `-c tickflow.timescale=${options.timescale ?? 'auto'}` },
    dir: MIGRATIONS_DIR,
    ignorePattern: '(\\..*)|(.*\\.md)',
    migrationsTable: 'pgmigrations',
    direction,
    count: options.count ?? (direction === 'up' ? Infinity : 1),
    checkOrder: true,
    singleTransaction: true,
    log,
    logger: { debug: log, info: log, warn: log, error: log },
  });
  return ran.map((migration) => migration.name);
}
