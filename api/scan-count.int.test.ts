import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { migrate } from '../store/migrate.js';
import { ACTIVE_SCAN_FILTERS } from './testing.js';
import { seededRandom } from '../test/record-fixtures.js';
import { buildCountSql, countableFromBuckets, type ScanFilters, type Tier } from './scan.js';

/**
 * The scan count from `pattern_active_counts` (kept by triggers on `patterns`) against a plain count of the same
 * rows, on real PostgreSQL, while rows are inserted, upserted, updated across buckets, tiers and statuses, deleted
 * and truncated. Confidences sit on bucket edges on purpose (0.29 * 100 is 28.999… in floating point).
 */

const TIERS: Tier[] = ['INTRADAY', 'DAILY', 'COMBO'];
const PATTERNS = ['doji', 'hammer', 'volume_spike'];
const EDGES = [0, 0.01, 0.07, 0.28, 0.29, 0.285, 0.5, 0.57, 0.58, 0.59, 0.7, 0.99, 1];

function filtersOf(confidenceMin: number, tiers: Tier[], patternTypes: string[]): ScanFilters {
  return { ...ACTIVE_SCAN_FILTERS, confidenceMin, tiers, patternTypes };
}

describe('scan counts from pattern_active_counts', () => {
  let db: TestDatabase;
  let client: pg.Client;
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const confidence = () => (random() < 0.5 ? pick(EDGES) : Math.round(random() * 1000) / 1000);

  beforeAll(async () => {
    db = await createTestDatabase('scan_count');
    await migrate(db.url);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function insert(count: number, from: number): Promise<void> {
    const rows = Array.from({ length: count }, (_, index) => [
      `p${from + index}`,
      pick(PATTERNS),
      pick(TIERS),
      confidence(),
      random() < 0.7 ? 'active' : 'expired',
    ]);
    await client.query(
      `INSERT INTO patterns (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
         price, volume, status, last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
       SELECT r.id, r.pattern, 1, r.tier, 'BULLISH', 'AAPL', now(), now() + interval '1 day', r.confidence, r.confidence, 100, 1000, r.status, 'e', 'DETECTED', 't', 0, 0
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[]) AS r(id, pattern, tier, confidence, status)
       ON CONFLICT (pattern_id) DO UPDATE SET confidence = excluded.confidence, tier = excluded.tier, status = excluded.status`,
      [
        rows.map((row) => row[0]),
        rows.map((row) => row[1]),
        rows.map((row) => row[2]),
        rows.map((row) => row[3]),
        rows.map((row) => row[4]),
      ],
    );
  }

  /** Every filter shape and bound, capped at `cap`: the bucket count must equal the plain count (or both exceed the cap). */
  async function expectCountsMatch(cap: number): Promise<void> {
    for (let trial = 0; trial < 60; trial += 1) {
      const tiers = random() < 0.5 ? [] : random() < 0.7 ? [pick(TIERS)] : [...TIERS].slice(0, 2);
      const patternTypes = random() < 0.5 ? [] : [pick(PATTERNS)];
      const filters = filtersOf(pick([...EDGES, 0.2915, 0.6]), tiers, patternTypes);
      const { text, values } = buildCountSql(filters, cap);
      expect(text).toContain('pattern_active_counts');
      const got = (await client.query<{ total: number }>(text, values)).rows[0]!.total;
      const plain = (
        await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM patterns WHERE status = 'active' AND confidence >= $1 AND (cardinality($2::text[]) = 0 OR tier = ANY($2)) AND (cardinality($3::text[]) = 0 OR pattern = ANY($3))`,
          [filters.confidenceMin, tiers, patternTypes],
        )
      ).rows[0]!.n;
      if (plain > cap) expect(got, JSON.stringify({ filters, plain })).toBeGreaterThan(cap);
      else expect(got, JSON.stringify({ filters, plain })).toBe(plain);
    }
  }

  it('uses the buckets only for tier, pattern and confidence filters', () => {
    expect(countableFromBuckets(filtersOf(0.5, ['DAILY'], ['doji']))).toBe(true);
    expect(countableFromBuckets({ ...filtersOf(0.5, [], []), symbols: ['AAPL'] })).toBe(false);
    expect(countableFromBuckets({ ...filtersOf(0.5, [], []), rsMin: 1 })).toBe(false);
    expect(countableFromBuckets({ ...filtersOf(0.5, [], []), status: 'all' })).toBe(false);
    expect(buildCountSql({ ...filtersOf(0.5, [], []), sectors: ['technology'] }, 100).text).not.toContain('pattern_active_counts');
  });

  it('matches a plain count through inserts, upserts, updates, deletes and truncation', async () => {
    await insert(1500, 0);
    await expectCountsMatch(10_000);
    await expectCountsMatch(40);

    // Upserts over existing ids (the projector's fold) and new ones in one statement.
    await insert(800, 1000);
    await expectCountsMatch(10_000);

    // Moves across buckets, tiers and statuses.
    await client.query(
      `UPDATE patterns SET confidence = CASE WHEN confidence < 0.5 THEN confidence + 0.29 ELSE confidence - 0.285 END WHERE pattern_id LIKE 'p1%'`,
    );
    await client.query(`UPDATE patterns SET tier = 'COMBO' WHERE pattern_id LIKE 'p2%'`);
    await client.query(
      `UPDATE patterns SET status = CASE WHEN status = 'active' THEN 'expired' ELSE 'active' END WHERE pattern_id LIKE 'p3%'`,
    );
    await expectCountsMatch(10_000);
    await expectCountsMatch(25);

    await client.query(`DELETE FROM patterns WHERE pattern_id LIKE 'p4%'`);
    await expectCountsMatch(10_000);

    // A recount (what a rebuild's swap runs) gives the counts the triggers kept.
    const kept = await client.query('SELECT tier, pattern, bucket, n FROM pattern_active_counts WHERE n <> 0 ORDER BY 1, 2, 3');
    await client.query('SELECT tf_attach_pattern_counts()');
    const recounted = await client.query('SELECT tier, pattern, bucket, n FROM pattern_active_counts ORDER BY 1, 2, 3');
    expect(recounted.rows).toEqual(kept.rows);

    // Concurrent writers (the projector folds several partitions at once), each upserting over shared buckets in
    // its own transaction: no deadlock, and the counts stay exact.
    const writers = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const writer = new pg.Client({ connectionString: db.url });
        await writer.connect();
        return writer;
      }),
    );
    try {
      await Promise.all(
        writers.map(async (writer, index) => {
          for (let round = 0; round < 5; round += 1) {
            const ids = Array.from({ length: 60 }, (_, n) => `w${index}-${(round * 37 + n) % 100}`);
            await writer.query('BEGIN');
            await writer.query(
              `INSERT INTO patterns (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
                 price, volume, status, last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
               SELECT id, (ARRAY['doji', 'hammer', 'volume_spike'])[1 + (ord + $2) % 3], 1, (ARRAY['INTRADAY', 'DAILY', 'COMBO'])[1 + ord % 3], 'BULLISH', 'AAPL',
                      now(), now(), ((ord * 7 + $2) % 100) / 100.0, 0.5, 100, 1000, CASE WHEN (ord + $2) % 4 = 0 THEN 'expired' ELSE 'active' END, 'e', 'DETECTED', 't', 0, 0
                 FROM unnest($1::text[]) WITH ORDINALITY AS r(id, ord)
               ON CONFLICT (pattern_id) DO UPDATE SET confidence = excluded.confidence, tier = excluded.tier, status = excluded.status, pattern = excluded.pattern`,
              [ids, round + index],
            );
            await writer.query('COMMIT');
          }
        }),
      );
    } finally {
      await Promise.all(writers.map((writer) => writer.end()));
    }
    await expectCountsMatch(10_000);

    await client.query('TRUNCATE patterns');
    expect((await client.query('SELECT count(*)::int AS n FROM pattern_active_counts')).rows[0]).toEqual({ n: 0 });
    await insert(300, 0);
    await expectCountsMatch(10_000);
  });
});
