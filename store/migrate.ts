import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { applyHistoryRetention } from './retention.js';

/** Every migration of the project lives under here as a SQL file, in the folder of the part of the schema it owns. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * The parts of the schema, one folder each: `projections` (market data and the projector's bookkeeping: symbols,
 * fundamentals, bars, patterns, offsets, rejects), `accounts` (users, refresh tokens, API keys, universes: store/accounts/),
 * `notices` (the projection notices' outbox: store/notifier.ts). The runner reads them as one list ordered by the
 * timestamp in the file name, and records a migration by its file name without the folder, so moving a file between
 * folders never re-runs it; a file name, once released, never changes.
 */
export const MIGRATION_GROUPS = ['projections', 'accounts', 'notices'] as const;

export type TimescaleMode = 'auto' | 'on' | 'off';

/** The TimescaleDB version CI tests (2.28.x is the last line that supports PostgreSQL 15); docker-compose pins its line. */
export const TESTED_TIMESCALEDB_VERSION = '2.28.3';

/** What a server says about TimescaleDB before any migration touches it. */
export interface TimescaleProbe {
  /** `default_version` in pg_available_extensions: the extension's files are installed. */
  readonly available: string | null;
  /** `extversion` in this database's pg_extension: CREATE EXTENSION already ran here. */
  readonly installed: string | null;
  /** The library is in shared_preload_libraries; without it CREATE EXTENSION kills the session. */
  readonly preloaded: boolean;
}

export interface TimescaleDecision {
  readonly timescale: boolean;
  readonly warnings: readonly string[];
}

/**
 * Which storage path a migration takes. `auto` must not trust pg_available_extensions alone: with the package
 * installed but the library not preloaded, CREATE EXTENSION fails fatally ("Connection terminated unexpectedly").
 */
export function decideTimescale(wanted: TimescaleMode, probe: TimescaleProbe, tested = TESTED_TIMESCALEDB_VERSION): TimescaleDecision {
  if (wanted === 'off') return { timescale: false, warnings: [] };
  if (probe.available === null && probe.installed === null) {
    if (wanted === 'on') throw new Error('tickflow.timescale = on but the timescaledb extension is not available on this server');
    return { timescale: false, warnings: [] };
  }
  if (!probe.preloaded && probe.installed === null) {
    const fix =
      "add timescaledb to shared_preload_libraries (shared_preload_libraries = 'timescaledb' in postgresql.conf) and restart the server";
    if (wanted === 'on')
      throw new Error(`tickflow.timescale = on but the timescaledb extension is installed and not preloaded on this server: ${fix}`);
    return {
      timescale: false,
      warnings: [
        `timescaledb ${probe.available} is installed on this server but not preloaded, so the migration uses plain PostgreSQL partitions; to use TimescaleDB, ${fix}`,
      ],
    };
  }
  const version = probe.installed ?? probe.available;
  const warnings =
    version === tested
      ? []
      : [`timescaledb ${version} on this server differs from the tested ${tested}: the TimescaleDB path is tested only with ${tested}`];
  return { timescale: true, warnings };
}

/** Reads what `decideTimescale` needs; one short session that never loads the library. */
export async function probeTimescale(databaseUrl: string): Promise<TimescaleProbe> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ available: string | null; installed: string | null; preload: string }>(
      `SELECT (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
              (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed,
              coalesce(current_setting('shared_preload_libraries', true), '') AS preload`,
    );
    const row = rows[0]!;
    return {
      available: row.available,
      installed: row.installed,
      preloaded: row.preload.split(',').some((name) => name.trim() === 'timescaledb'),
    };
  } finally {
    await client.end();
  }
}

/** Warnings already given in this process, by receiver: one per server and text, not one per migrated database. */
const warned = new WeakMap<(message: string) => void, Set<string>>();
const defaultWarn = (message: string) => console.warn(message);

export interface MigrateOptions {
  /** `auto` (default) uses TimescaleDB when the server offers it; `off` forces plain partitioned tables. */
  readonly timescale?: TimescaleMode;
  readonly direction?: 'up' | 'down';
  /** Number of migrations to run (default: all for up, 1 for down). */
  readonly count?: number;
  /** Receives the runner's progress lines; silent by default. */
  readonly log?: (message: string) => void;
  /** Receives the storage path's warnings (not preloaded, untested version), once per server per process; default console.warn. */
  readonly warn?: (message: string) => void;
}

/**
 * Brings the database schema up to date with node-pg-migrate (its table `pgmigrations` records what ran,
 * so re-running is a no-op; an advisory lock serialises concurrent runs). Returns the names of the migrations run.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.log ?? (() => {});
  const direction = options.direction ?? 'up';
  const decision = decideTimescale(options.timescale ?? 'auto', await probeTimescale(databaseUrl));
  const server = new URL(databaseUrl).host;
  const warn = options.warn ?? defaultWarn;
  const given = warned.get(warn) ?? new Set<string>();
  warned.set(warn, given);
  for (const warning of decision.warnings) {
    if (given.has(`${server} ${warning}`)) continue;
    given.add(`${server} ${warning}`);
    warn(`tickflow migrate (${server}): ${warning}`);
  }
  const ran = await runner({
    // The session setting is read by the first migration to choose the storage path, decided above.
    databaseUrl: { connectionString: databaseUrl, options: `-c tickflow.timescale=${decision.timescale ? 'on' : 'off'}` },
    dir: MIGRATION_GROUPS.map((group) => `${MIGRATIONS_DIR}${group}/*.sql`),
    useGlob: true,
    migrationsTable: 'pgmigrations',
    direction,
    count: options.count ?? (direction === 'up' ? Infinity : 1),
    checkOrder: true,
    singleTransaction: true,
    log,
    logger: { debug: log, info: log, warn: log, error: log },
  });
  if (direction === 'up') await reconcileRetention(databaseUrl);
  return ran.map((migration) => migration.name);
}

/** Applies the topics' retention to the tables (store/retention.ts) once the migration that defines it has run. */
async function reconcileRetention(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const defined = await client.query<{ defined: boolean }>(
      `SELECT to_regprocedure('tf_set_history_retention(text, interval)') IS NOT NULL AS defined`,
    );
    if (defined.rows[0]?.defined) await applyHistoryRetention(client);
  } finally {
    await client.end();
  }
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
