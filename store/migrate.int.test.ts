import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { ensureDatabase, migrate } from './migrate.js';
import { preparePartitions } from './partitions.js';
import { createLogger } from '../platform/logger.js';

describe('migrate (PostgreSQL without TimescaleDB)', () => {
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
      for (const table of ['bars_1m', 'bars_1d', 'pattern_events']) expect(kinds.get(table)).toBe('p');
      for (const view of ['bars_5m', 'bars_15m', 'bars_1h', 'pattern_counts_hourly']) expect(kinds.get(view)).toBe('v');
      const setting = await client.query(`SELECT value FROM projection_settings WHERE key = 'timescale'`);
      expect(setting.rows[0]).toEqual({ value: 'off' });

      // The views aggregate minute bars: open of the first minute, close of the last, volume-weighted vwap.
      await client.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume, vwap, transactions) VALUES
        ('AAPL', '2026-11-25T14:30:00Z', 10, 11, 9, 10.5, 100, 10, 5),
        ('AAPL', '2026-11-25T14:31:00Z', 10.5, 12, 10, 11.5, 300, 11, 7),
        ('AAPL', '2026-11-25T14:35:00Z', 11.5, 12, 11, 11.8, 50, null, null)`);
      const fiveMinute = await client.query(`SELECT open, high, low, close, volume, vwap, transactions FROM bars_5m WHERE symbol = 'AAPL' ORDER BY bucket`);
      expect(fiveMinute.rows[0]).toEqual({ open: 10, high: 12, low: 9, close: 11.5, volume: 400, vwap: 10.75, transactions: '12' });
      expect(fiveMinute.rows[1]).toMatchObject({ open: 11.5, close: 11.8, vwap: null });
      const hour = await client.query(`SELECT volume FROM bars_1h WHERE symbol = 'AAPL'`);
      expect(hour.rows).toEqual([{ volume: 450 }]);
      // A bar far outside the prepared partitions still lands (DEFAULT partition).
      await client.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('AAPL', '1999-01-04T15:00:00Z', 1, 1, 1, 1, 1)`);
      expect((await client.query(`SELECT count(*)::int AS n FROM bars_1m_pdefault`)).rows[0]).toEqual({ n: 1 });
    } finally {
      await client.end();
    }
  });

  it('refuses timescale=on when the server has no TimescaleDB, leaving nothing half-applied', async () => {
    const other = await createTestDatabase('migrate_on');
    try {
      await expect(migrate(other.url, { timescale: 'on' })).rejects.toThrow(/timescaledb extension is not available/);
      const client = new pg.Client({ connectionString: other.url });
      await client.connect();
      const tables = await client.query(`SELECT to_regclass('public.symbols') AS symbols`);
      await client.end();
      expect(tables.rows[0]).toEqual({ symbols: null });
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
    await expect(ensureDatabase('postgres://postgres@127.0.0.1:5432/')).rejects.toThrow(/no database name/);
  });

  it('keeps monthly partitions prepared ahead, and survives a month whose rows sit in DEFAULT', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const month = (await pool.query(`SELECT to_char(date_trunc('month', now()) + interval '6 months', 'YYYYMM') AS m, date_trunc('month', now()) + interval '6 months' + interval '1 day' AS at`)).rows[0];
      await pool.query(`DROP TABLE bars_1m_p${month.m}`);
      await pool.query(`DROP TABLE pattern_events_p${month.m}`);
      // A bar of that month arrives meanwhile: it lands in DEFAULT, so that month cannot get its partition back.
      await pool.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('AAPL', $1, 1, 1, 1, 1, 1)`, [month.at]);
      expect(await preparePartitions(pool, createLogger('test', { level: 'silent' }))).toBe(1);
      const exists = await pool.query(`SELECT to_regclass($1) AS bars, to_regclass($2) AS events`, [`bars_1m_p${month.m}`, `pattern_events_p${month.m}`]);
      expect(exists.rows[0]).toEqual({ bars: null, events: `pattern_events_p${month.m}` });
    } finally {
      await pool.end();
    }
  });
});
