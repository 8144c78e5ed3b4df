import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

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

/** Creates the database of `databaseUrl` when it does not exist (connecting to the server's `postgres` database). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name.length === 0) throw new RangeError(`no database name in ${url.origin}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (error) {
    // Two starters racing: the other one created it.
    if ((error as { code?: string }).code === '42P04') return false;
    throw error;
  } finally {
    await client.end();
  }
}
