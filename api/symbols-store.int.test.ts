import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { migrate } from '../store/migrate.js';
import { findSymbol } from './symbols-store.js';

/** A symbol's last bar on real PostgreSQL: looked for in the recent partitions first (LAST_BAR_WINDOWS), else in all. */
describe('findSymbol', () => {
  let database: TestDatabase;
  let db: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase('symbols_store');
    await migrate(database.url);
    db = new pg.Pool({ connectionString: database.url, max: 2 });
  });
  afterAll(async () => {
    await db?.end();
    await database?.drop();
  });

  it('finds the last bar in the recent windows, else anywhere', async () => {
    const now = Date.now();
    const hour = 3_600_000;
    const day = 24 * hour;
    const minute = (at: number) => new Date(Math.floor(at / 60_000) * 60_000);
    const midnight = (at: number) => new Date(Math.floor(at / day) * day);
    const bars: [symbol: string, table: 'bars_1m' | 'bars_1d', bucket: Date, close: number][] = [
      ['RECENT', 'bars_1m', minute(now - hour), 1],
      ['RECENT', 'bars_1m', minute(now - 2 * hour), 2],
      ['RECENT', 'bars_1d', midnight(now - day), 3],
      // A bar from the future (bad data) is passed over while the window holds another.
      ['RECENT', 'bars_1m', minute(now + 2 * day), 4],
      ['DAILY', 'bars_1m', minute(now - 10 * day), 5],
      ['DAILY', 'bars_1d', midnight(now - 2 * day), 6],
      ['DAILY', 'bars_1d', midnight(now - 3 * day), 7],
      ['OLD', 'bars_1m', minute(now - 500 * day), 8],
      ['OLD', 'bars_1d', midnight(now - 450 * day), 9],
      ['OLDDAILY', 'bars_1d', midnight(now - 600 * day), 10],
    ];
    await db.query(
      `INSERT INTO symbols (ticker, name, market, locale, type, active, updated_at) SELECT t, t, 'stocks', 'us', 'CS', true, now() FROM unnest($1::text[]) AS t`,
      [['RECENT', 'DAILY', 'OLD', 'OLDDAILY', 'NOBARS']],
    );
    for (const [symbol, table, bucket, close] of bars) {
      await db.query(
        `INSERT INTO ${table} (symbol, bucket, open, high, low, close, volume, vwap, transactions) VALUES ($1, $2, $3, $3, $3, $3, 100, $3, 1)`,
        [symbol, bucket, close],
      );
    }
    const expected = { RECENT: ['1m', 1], DAILY: ['1d', 6], OLD: ['1m', 8], OLDDAILY: ['1d', 10], NOBARS: undefined };
    for (const [symbol, bar] of Object.entries(expected)) {
      const detail = await findSymbol(db, symbol, now);
      expect({ symbol, bar: detail?.last_bar ? [detail.last_bar.interval, detail.last_bar.close] : undefined }).toEqual({ symbol, bar });
    }
    expect(await findSymbol(db, 'NONE', now)).toBeUndefined();
  });
});
