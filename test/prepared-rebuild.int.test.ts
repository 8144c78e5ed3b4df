import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { migrate } from '../store/migrate.js';
import { seededRandom } from './record-fixtures.js';
import { createRebuildTables, swapRebuilt } from '../projections/rebuild.js';
import { loadApiConfig } from '../api/config.js';
import { scanPatterns } from '../api/patterns-store.js';
import { createPreparedPool, preparedStatements } from '../api/prepared.js';
import { normaliseScanQuery, pageOf, type ScanParameters } from '../api/scan.js';

/**
 * Scans run as prepared statements with generic plans (the API's prepared pool) against the same scans run
 * unprepared, on real PostgreSQL: the same pages, totals and cursors for every shape they take, and still right
 * after a rebuild swapped the table under the statements.
 */

const TIERS = ['INTRADAY', 'DAILY', 'COMBO'];
const PATTERNS = ['doji', 'hammer', 'volume_spike', 'breakout_25'];
const COUNT_CAP = 150;

const defaults: ScanParameters = {
  timeframe: 'all',
  status: 'active',
  confidence_min: 0.5,
  sort_by: 'confidence',
  sort_order: 'desc',
  page: 1,
  per_page: 20,
};

async function insertPatterns(db: pg.Pool, table: string, count: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const rows = Array.from({ length: count }, (_, index) => ({
    id: `p${seed}-${index}`,
    pattern: pick(PATTERNS),
    tier: pick(TIERS),
    symbol: `S${Math.floor(random() * 50)}`,
    // Ties on purpose: keyset pages must break them by id.
    confidence: Math.round(random() * 40) / 40,
    volume: Math.round(random() * 20) * 1000,
    rs: random() < 0.1 ? null : Math.round(random() * 30) / 10,
    detectedSecondsAgo: Math.floor(random() * 100_000),
    status: random() < 0.8 ? 'active' : 'expired',
  }));
  await db.query(
    `INSERT INTO ${table} (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
       price, volume, relative_strength, status, last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
     SELECT r.id, r.pattern, 1, r.tier, 'BULLISH', r.symbol, now() - r.ago * interval '1 second', now() + interval '1 day', r.confidence, r.confidence,
            100, r.volume, r.rs, r.status, 'e', 'DETECTED', 't', 0, 0
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::int[], $9::text[])
         AS r(id, pattern, tier, symbol, confidence, volume, rs, ago, status)`,
    [
      rows.map((row) => row.id),
      rows.map((row) => row.pattern),
      rows.map((row) => row.tier),
      rows.map((row) => row.symbol),
      rows.map((row) => row.confidence),
      rows.map((row) => row.volume),
      rows.map((row) => row.rs),
      rows.map((row) => row.detectedSecondsAgo),
      rows.map((row) => row.status),
    ],
  );
}

describe('scans as prepared statements with generic plans', () => {
  let database: TestDatabase;
  let db: pg.Pool;
  let preparedPool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase('scan_prepared');
    await migrate(database.url);
    db = new pg.Pool({ connectionString: database.url, max: 2 });
    preparedPool = createPreparedPool(database.url, loadApiConfig({ API_PREPARED_POOL: '1' }))!;
    await insertPatterns(db, 'patterns', 1500, 1);
    await db.query('ANALYZE patterns');
  });
  afterAll(async () => {
    await preparedPool?.end();
    await db?.end();
    await database?.drop();
  });

  /** Every page of a scan through its keyset cursor, unprepared and prepared; they must be equal. */
  async function walk(overrides: Partial<ScanParameters>): Promise<{ unprepared: unknown[]; prepared: unknown[] }> {
    const prepared = preparedStatements(preparedPool);
    const pages = { unprepared: [] as unknown[], prepared: [] as unknown[] };
    for (const [kind, reader] of [
      ['unprepared', undefined],
      ['prepared', prepared],
    ] as const) {
      let query = normaliseScanQuery({ ...defaults, ...overrides }, undefined);
      for (let page = 0; page < 3; page += 1) {
        const result = await scanPatterns(db, query, COUNT_CAP, reader);
        const { items, nextCursor } = pageOf(result.rows, query);
        pages[kind].push({ items, total: result.total, capped: result.totalCapped, nextCursor });
        if (nextCursor === undefined) break;
        query = normaliseScanQuery({ ...defaults, ...overrides, cursor: nextCursor }, undefined);
      }
      // Offset paging reads the leading rows too.
      const third = await scanPatterns(db, normaliseScanQuery({ ...defaults, ...overrides, page: 3 }, undefined), COUNT_CAP, reader);
      pages[kind].push({ rows: third.rows, total: third.total, leading: third.leadingSymbols });
    }
    return pages;
  }

  it('plans its sessions generically, without JIT', async () => {
    const { rows } = await preparedPool.query<{ mode: string; jit: string }>(
      "SELECT current_setting('plan_cache_mode') AS mode, current_setting('jit') AS jit",
    );
    expect(rows[0]).toEqual({ mode: 'force_generic_plan', jit: 'off' });
    expect(createPreparedPool(database.url, loadApiConfig({ API_PREPARED_POOL: '0' }))).toBeUndefined();
  });

  it('gives the same pages, totals and cursors as unprepared scans, for every shape and bound', async () => {
    const shapes: Partial<ScanParameters>[] = [];
    for (const timeframe of ['all', 'daily', 'intraday'] as const) {
      for (const pattern_types of [undefined, ['hammer']]) {
        for (const sort_by of ['confidence', 'detected_at', 'rs', 'volume', 'symbol'] as const) {
          for (const sort_order of ['desc', 'asc'] as const) {
            // Many matches (above the cap: index walks), some, and a few (gathers).
            for (const confidence_min of [0.1, 0.6, 0.95])
              shapes.push({ timeframe, sort_by, sort_order, confidence_min, ...(pattern_types ? { pattern_types } : {}) });
          }
        }
      }
    }
    for (const shape of shapes) {
      const { unprepared, prepared } = await walk(shape);
      expect({ shape, pages: prepared }).toEqual({ shape, pages: unprepared });
    }
    // Each shape was parsed and planned once on the pool's one connection, not once per scan.
    const { rows } = await preparedPool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'tf\\_stmt\\_%'",
    );
    expect(rows[0]!.n).toBeGreaterThan(10);
    expect(rows[0]!.n).toBeLessThan(shapes.length * 4);
  });

  it('reads the new table after a rebuild swapped it under the prepared statements', async () => {
    const query = normaliseScanQuery({ ...defaults, timeframe: 'daily', sort_by: 'volume' }, undefined);
    const prepared = preparedStatements(preparedPool);
    const before = await scanPatterns(db, query, COUNT_CAP, prepared);
    expect(before.rows.length).toBeGreaterThan(0);

    await createRebuildTables(db, 'patterns');
    await insertPatterns(db, 'patterns__rebuild', 300, 2);
    await swapRebuilt(db, 'patterns');

    const after = await scanPatterns(db, query, COUNT_CAP, prepared);
    expect(after.rows.length).toBeGreaterThan(0);
    expect(after.rows.every((row) => row.id.startsWith('p2-'))).toBe(true);
    expect(after).toEqual({ ...(await scanPatterns(db, query, COUNT_CAP)), dbMs: after.dbMs });
  });
});
