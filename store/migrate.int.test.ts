import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, testServer, type TestDatabase } from '../test/postgres.js';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import { ensureDatabase, migrate, MIGRATION_GROUPS, MIGRATIONS_DIR, probeTimescale } from './migrate.js';
import { maintainPartitions } from './partitions.js';
import { RETAINED_RELATIONS, relationRetention, type RetainedRelation } from './retention.js';
import { createLogger } from '../platform/logger.js';

const TIMESCALE = testServer() === 'timescale';

// Runs on both servers: the plain path (the machine's PostgreSQL, TimescaleDB not preloaded there) and the
// TimescaleDB path (the stack's cluster); each test asserts its path's form of the same contract.
describe(`migrate (${TIMESCALE ? 'TimescaleDB' : 'PostgreSQL without TimescaleDB'})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('migrate');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('creates the contract tables, partitioned, and is a no-op when re-run', async () => {
    const ran = await migrate(db.url);
    expect(ran[0]).toBe('1795600000000_projections-core');
    expect(await migrate(db.url)).toEqual([]);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const relations = await client.query<{ relname: string; relkind: string }>(
        `SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r','p','v','m')`,
      );
      const kinds = new Map(relations.rows.map((row) => [row.relname, row.relkind]));
      for (const table of ['symbols', 'fundamentals', 'patterns', 'projection_offsets']) expect(kinds.get(table)).toBe('r');
      // Plain: declaratively partitioned tables (relkind p) and plain views. TimescaleDB: hypertables (ordinary
      // tables, relkind r, with chunks) and continuous aggregates (views over their materialization).
      for (const table of ['bars_1m', 'bars_1d', 'pattern_events']) expect(kinds.get(table)).toBe(TIMESCALE ? 'r' : 'p');
      for (const view of ['bars_5m', 'bars_15m', 'bars_1h', 'pattern_counts_hourly']) expect(kinds.get(view)).toBe('v');
      const setting = await client.query(`SELECT value FROM projection_settings WHERE key = 'timescale'`);
      expect(setting.rows[0]).toEqual({ value: TIMESCALE ? 'on' : 'off' });
      if (TIMESCALE) {
        const hypertables = await client.query(`SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1`);
        expect(hypertables.rows.map((row) => row.hypertable_name)).toEqual(['bars_1d', 'bars_1m', 'pattern_events']);
        const aggregates = await client.query(`SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1`);
        expect(aggregates.rows.map((row) => row.view_name)).toEqual(['bars_15m', 'bars_1h', 'bars_5m', 'pattern_counts_hourly']);
      } else {
        expect((await client.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'`)).rows[0]).toEqual({ n: 0 });
      }

      // The views aggregate minute bars: open of the first minute, close of the last, volume-weighted vwap.
      await client.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume, vwap, transactions) VALUES
        ('AAPL', '2026-11-25T14:30:00Z', 10, 11, 9, 10.5, 100, 10, 5),
        ('AAPL', '2026-11-25T14:31:00Z', 10.5, 12, 10, 11.5, 300, 11, 7),
        ('AAPL', '2026-11-25T14:35:00Z', 11.5, 12, 11, 11.8, 50, null, null)`);
      const fiveMinute = await client.query(
        `SELECT open, high, low, close, volume, vwap, transactions FROM bars_5m WHERE symbol = 'AAPL' ORDER BY bucket`,
      );
      expect(fiveMinute.rows[0]).toEqual({ open: 10, high: 12, low: 9, close: 11.5, volume: 400, vwap: 10.75, transactions: '12' });
      expect(fiveMinute.rows[1]).toMatchObject({ open: 11.5, close: 11.8, vwap: null });
      const hour = await client.query(`SELECT volume FROM bars_1h WHERE symbol = 'AAPL'`);
      expect(hour.rows).toEqual([{ volume: 450 }]);
      // A bar far outside the prepared partitions still lands: in the DEFAULT partition, or in a chunk of its own.
      await client.query(
        `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('AAPL', '1999-01-04T15:00:00Z', 1, 1, 1, 1, 1)`,
      );
      const landed = TIMESCALE
        ? `SELECT count(*)::int AS n FROM show_chunks('bars_1m', older_than => timestamptz '2000-01-01')`
        : `SELECT count(*)::int AS n FROM bars_1m_pdefault`;
      expect((await client.query(landed)).rows[0]).toEqual({ n: 1 });
    } finally {
      await client.end();
    }
  });

  // The machine's PostgreSQL has the extension's files (the stack built them into it) but does not preload the
  // library: `auto` used to trust pg_available_extensions and CREATE EXTENSION then ended the session.
  it.runIf(!TIMESCALE)('uses the plain path with one warning on a server where timescaledb is installed but not preloaded', async () => {
    expect(await probeTimescale(db.url)).toMatchObject({ preloaded: false, installed: null, available: expect.any(String) });
    const warnings: string[] = [];
    const warn = (message: string) => warnings.push(message);
    const first = await createTestDatabase('migrate_auto_a');
    const second = await createTestDatabase('migrate_auto_b');
    try {
      await migrate(first.url, { warn });
      await migrate(second.url, { warn });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /timescaledb \S+ is installed on this server but not preloaded, so the migration uses plain PostgreSQL partitions; .*shared_preload_libraries/,
      );
      const client = new pg.Client({ connectionString: second.url });
      await client.connect();
      const setting = await client.query(`SELECT value FROM projection_settings WHERE key = 'timescale'`);
      await client.end();
      expect(setting.rows).toEqual([{ value: 'off' }]);
    } finally {
      await first.drop();
      await second.drop();
    }
  });

  it.runIf(!TIMESCALE)(
    'refuses timescale=on where TimescaleDB is not usable (not preloaded here), leaving nothing half-applied',
    async () => {
      const other = await createTestDatabase('migrate_on');
      try {
        await expect(migrate(other.url, { timescale: 'on' })).rejects.toThrow(
          /timescale = on but the timescaledb extension is (?:not available|installed and not preloaded) on this server/,
        );
        const client = new pg.Client({ connectionString: other.url });
        await client.connect();
        const tables = await client.query(`SELECT to_regclass('public.symbols') AS symbols`);
        await client.end();
        expect(tables.rows[0]).toEqual({ symbols: null });
      } finally {
        await other.drop();
      }
    },
  );

  it.runIf(TIMESCALE)('takes the TimescaleDB path in auto mode where the library is preloaded, without a warning', async () => {
    const warnings: string[] = [];
    const other = await createTestDatabase('migrate_auto_ts');
    try {
      await migrate(other.url, { warn: (message) => warnings.push(message) });
      const client = new pg.Client({ connectionString: other.url });
      await client.connect();
      const setting = await client.query(`SELECT value FROM projection_settings WHERE key = 'timescale'`);
      await client.end();
      expect(setting.rows).toEqual([{ value: 'on' }]);
      expect(warnings).toEqual([]);
    } finally {
      await other.drop();
    }
  });

  it('migrates down and up again', async () => {
    const down = await migrate(db.url, { direction: 'down', count: Infinity });
    expect(down).toContain('1795600000000_projections-core');
    expect(await migrate(db.url)).toContain('1795600000000_projections-core');
  });

  it('creates a missing database once', async () => {
    const url = new URL(db.url);
    url.pathname = `/${db.name}_created`;
    try {
      expect(await ensureDatabase(url.toString())).toBe(true);
      expect(await ensureDatabase(url.toString())).toBe(false);
    } finally {
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${db.name}_created" WITH (FORCE)`);
      await admin.end();
    }
    const noName = new URL(db.url);
    noName.pathname = '/';
    await expect(ensureDatabase(noName.toString())).rejects.toThrow(/no database name/);
  });

  // Plain path only: hypertables create their chunks as rows arrive (the projector skips this step there).
  it.runIf(!TIMESCALE)('keeps monthly partitions prepared ahead, and survives a month whose rows sit in DEFAULT', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const month = (
        await pool.query(
          `SELECT to_char(date_trunc('month', now()) + interval '6 months', 'YYYYMM') AS m, date_trunc('month', now()) + interval '6 months' + interval '1 day' AS at`,
        )
      ).rows[0];
      await pool.query(`DROP TABLE bars_1m_p${month.m}`);
      await pool.query(`DROP TABLE pattern_events_p${month.m}`);
      // A bar of that month arrives meanwhile: it lands in DEFAULT, so that month cannot get its partition back.
      await pool.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('AAPL', $1, 1, 1, 1, 1, 1)`, [
        month.at,
      ]);
      expect(await maintainPartitions(pool, createLogger('test', { level: 'silent' }))).toBe(1);
      const exists = await pool.query(`SELECT to_regclass($1) AS bars, to_regclass($2) AS events`, [
        `bars_1m_p${month.m}`,
        `pattern_events_p${month.m}`,
      ]);
      expect(exists.rows[0]).toEqual({ bars: null, events: `pattern_events_p${month.m}` });
    } finally {
      await pool.end();
    }
  });

  it('migrates a database that the flat layout (one folder, before the groups) migrated, without running a migration twice', async () => {
    // The layout before the groups: every file in one folder, as node-pg-migrate read it then.
    const flat = mkdtempSync(join(tmpdir(), 'tickflow-flat-migrations-'));
    const old = await createTestDatabase('migrate-flat');
    try {
      for (const group of MIGRATION_GROUPS)
        for (const file of readdirSync(join(MIGRATIONS_DIR, group))) copyFileSync(join(MIGRATIONS_DIR, group, file), join(flat, file));
      const flatRun = (count: number) =>
        runner({
          databaseUrl: { connectionString: old.url, options: '-c tickflow.timescale=off' },
          dir: flat,
          migrationsTable: 'pgmigrations',
          direction: 'up',
          count,
          checkOrder: true,
          singleTransaction: true,
          log: () => {},
        });
      // Part of the history under the old layout, the rest under the new one: the same names, in the same order.
      const before = (await flatRun(5)).map((migration) => migration.name);
      const after = await migrate(old.url, { timescale: 'off' });
      const fresh = await createTestDatabase('migrate-fresh');
      try {
        expect([...before, ...after]).toEqual(await migrate(fresh.url, { timescale: 'off' }));
      } finally {
        await fresh.drop();
      }
      expect(await migrate(old.url, { timescale: 'off' })).toEqual([]);
    } finally {
      rmSync(flat, { recursive: true, force: true });
      await old.drop();
    }
  });

  // One setting per kind of history (the topic's retention): stored by every migrate() and applied as TimescaleDB
  // retention policies (hypertables and continuous aggregates) or, on the plain path, by dropping expired months.
  it('keeps each time-series relation as long as the topic that feeds it', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await migrate(db.url);
      const relations = Object.keys(RETAINED_RELATIONS) as RetainedRelation[];
      const stored = await client.query<{ key: string; value: string }>(
        `SELECT key, value FROM projection_settings WHERE key LIKE 'retention %'`,
      );
      expect(Object.fromEntries(stored.rows.map((row) => [row.key, row.value]))).toEqual(
        Object.fromEntries(relations.map((relation) => [`retention ${relation}`, relationRetention(relation) ?? 'forever'])),
      );
      expect(relationRetention('bars_1m')).toBe('730 days');
      expect(relationRetention('bars_1d')).toBeNull();
      if (!TIMESCALE) return;
      const policies = await client.query<{ relation: string; drop_after: string }>(
        `SELECT hypertable_name AS relation, config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'`,
      );
      const expected = relations.filter((relation) => relationRetention(relation) !== null);
      expect(Object.fromEntries(policies.rows.map((row) => [row.relation, row.drop_after]))).toEqual(
        Object.fromEntries(expected.map((relation) => [relation, relationRetention(relation)])),
      );
      // A changed setting replaces the policy; the same one leaves its job alone.
      const job = async () =>
        (
          await client.query(
            `SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'bars_1m'`,
          )
        ).rows[0]?.job_id;
      const before = await job();
      await client.query(`SELECT tf_set_history_retention('bars_1m', '730 days')`);
      expect(await job()).toBe(before);
      await client.query(`SELECT tf_set_history_retention('bars_1m', '90 days')`);
      const changed = await client.query(
        `SELECT config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'bars_1m'`,
      );
      expect(changed.rows).toEqual([{ drop_after: '90 days' }]);
      await migrate(db.url);
      expect((await client.query(`SELECT value FROM projection_settings WHERE key = 'retention bars_1m'`)).rows).toEqual([
        { value: '730 days' },
      ]);
      expect(
        (
          await client.query(
            `SELECT config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'bars_1m'`,
          )
        ).rows,
      ).toEqual([{ drop_after: '730 days' }]);
    } finally {
      await client.end();
    }
  });

  it.runIf(!TIMESCALE)('drops the monthly partitions older than the retention, and only those', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      // A month whose whole range is older than 730 days, one that ends inside them, and a bar in each.
      const months = (
        await pool.query<{ old: string; kept: string }>(
          `SELECT to_char(date_trunc('month', now() - interval '730 days') - interval '1 month', 'YYYY-MM-DD') AS old,
                  to_char(date_trunc('month', now() - interval '730 days'), 'YYYY-MM-DD') AS kept`,
        )
      ).rows[0]!;
      await pool.query(`SELECT tf_ensure_monthly_partitions('bars_1m', $1::date, ($2::date + interval '1 month')::date)`, [
        months.old,
        months.kept,
      ]);
      for (const day of [months.old, months.kept])
        await pool.query(
          `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('OLD', $1::date + interval '1 day', 1, 1, 1, 1, 1)`,
          [day],
        );
      const name = (day: string) => `bars_1m_p${day.slice(0, 4)}${day.slice(5, 7)}`;
      // (The count it returns is of the tables prepared ahead; the test above left bars_1m unable to be.)
      await maintainPartitions(pool, createLogger('test', { level: 'silent' }));
      const exists = await pool.query(`SELECT to_regclass($1) AS old, to_regclass($2) AS kept`, [name(months.old), name(months.kept)]);
      expect(exists.rows[0]).toEqual({ old: null, kept: name(months.kept) });
      expect((await pool.query(`SELECT count(*)::int AS n FROM bars_1m WHERE symbol = 'OLD'`)).rows[0]).toEqual({ n: 1 });
    } finally {
      await pool.end();
    }
  });
});
