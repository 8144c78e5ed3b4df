import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCountSql, buildScanSql, type ScanQuery } from '../api/scan.js';
import { createTestDatabase, testServer, type TestDatabase } from './postgres.js';
import { applySql, patternEventRow, barRow, stagingDdl, stagingName, TABLES, type Row, type TableName } from '../projections/core.js';
import { minuteBars, patternEvents } from './record-fixtures.js';
import { migrate, TESTED_TIMESCALEDB_VERSION } from '../store/migrate.js';
import { createRebuildTables, swapRebuilt } from '../projections/rebuild.js';
import { ACTIVE_SCAN_FILTERS } from '../api/testing.js';
import { relationRetention, type RetainedRelation } from '../store/retention.js';
import { listBars } from '../api/symbols-store.js';
import { aggregateWatermarks } from '../store/aggregates.js';
import { executedPlans } from './executed-plans.js';

const DAY_MS = 86_400_000;

/** Rows reach the staging table by INSERT here (the projector's COPY is covered by projector.int.test.ts on this path); the fold is the projector's SQL. */
async function project(client: pg.ClientBase, table: TableName, rows: readonly { row: Row; offset: number }[], suffix = ''): Promise<void> {
  const spec = TABLES[table];
  await client.query('BEGIN');
  await client.query(stagingDdl(table));
  const width = spec.columns.length + 1;
  for (const { row, offset } of rows) {
    const placeholders = Array.from({ length: width }, (_, index) => `$${index + 1}`).join(', ');
    const values = [
      ...row.map((value) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : value)),
      offset,
    ];
    await client.query(
      `INSERT INTO ${stagingName(table)} (${spec.columns.map(([name]) => name).join(', ')}, _offset) VALUES (${placeholders})`,
      values,
    );
  }
  for (const statement of applySql(table, suffix)) await client.query(statement);
  await client.query('COMMIT');
}

const ALL = ACTIVE_SCAN_FILTERS;

// TimescaleDB-specific: runs in the `integration-timescale` project (the stack's TimescaleDB 2.28 cluster). The plain
// path's equivalents (monthly partitions, plain views, no policies) are asserted by migrate.int.test.ts there.
describe.runIf(testServer() === 'timescale')('the TimescaleDB path (the stack cluster, timescaledb preloaded)', () => {
  let db: TestDatabase;
  let url: string;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('timescale');
    url = db.url;
    await migrate(url, { timescale: 'on' });
    client = new pg.Client({ connectionString: url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end().catch(() => {});
    await db?.drop();
  });

  it('runs the tested extension version, preloaded', async () => {
    const { rows } = await client.query(
      `SELECT extversion, current_setting('shared_preload_libraries') AS preload FROM pg_extension WHERE extname = 'timescaledb'`,
    );
    expect(rows).toEqual([{ extversion: TESTED_TIMESCALEDB_VERSION, preload: 'timescaledb' }]);
  });

  it('creates hypertables, continuous aggregates and the compression, retention and refresh policies', async () => {
    const hypertables = await client.query(
      `SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables ORDER BY 1`,
    );
    expect(hypertables.rows).toEqual([
      { hypertable_name: 'bars_1d', compression_enabled: true },
      { hypertable_name: 'bars_1m', compression_enabled: true },
      { hypertable_name: 'pattern_events', compression_enabled: true },
    ]);
    const aggregates = await client.query(
      `SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1`,
    );
    expect(aggregates.rows).toEqual([
      { view_name: 'bars_15m', materialized_only: false },
      { view_name: 'bars_1h', materialized_only: false },
      { view_name: 'bars_5m', materialized_only: false },
      { view_name: 'pattern_counts_hourly', materialized_only: false },
    ]);
    const jobs = await client.query(
      `SELECT proc_name, hypertable_name FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 2, 1`,
    );
    const byTable = (name: string) => jobs.rows.filter((row) => row.hypertable_name === name).map((row) => row.proc_name);
    expect(byTable('bars_1m')).toEqual(expect.arrayContaining(['policy_compression', 'policy_retention']));
    expect(byTable('pattern_events')).toEqual(expect.arrayContaining(['policy_compression', 'policy_retention']));
    for (const view of ['bars_5m', 'bars_15m', 'bars_1h', 'pattern_counts_hourly'])
      expect(byTable(view)).toEqual(['policy_refresh_continuous_aggregate', 'policy_retention']);
    expect((await client.query(`SELECT value FROM projection_settings WHERE key = 'timescale'`)).rows).toEqual([{ value: 'on' }]);
  });

  it('folds staged rows with the projector SQL, idempotently, into hypertables and their aggregates', async () => {
    const events = patternEvents(120, 41);
    const rows = events.map((event, index) => ({
      row: patternEventRow(event, { topic: 'patterns.events.v1', partition: 0, offset: index }),
      offset: index,
    }));
    await project(client, 'pattern_events', rows.slice(0, 80));
    await project(client, 'pattern_events', rows.slice(60)); // overlapping replay
    const counts = await client.query(
      `SELECT (SELECT count(*)::int FROM pattern_events) AS events, (SELECT count(*)::int FROM patterns) AS patterns`,
    );
    expect(counts.rows[0]).toEqual({ events: 120, patterns: new Set(events.map((event) => event.patternId)).size });
    const detections = events.filter((event) => event.kind === 'DETECTED').length;
    expect((await client.query('SELECT sum(count)::int AS n FROM pattern_counts_hourly')).rows[0].n).toBe(detections);
    await client.query(`CALL refresh_continuous_aggregate('pattern_counts_hourly', NULL, NULL)`);
    expect((await client.query('SELECT sum(count)::int AS n FROM pattern_counts_hourly')).rows[0].n).toBe(detections);

    const bars = minuteBars(['AAPL', 'MSFT'], 10);
    await project(
      client,
      'bars_1m',
      bars.map((value, index) => ({ row: barRow(value, 'MINUTE'), offset: index })),
    );
    const fiveMinute = await client.query(`SELECT symbol, open, close, volume FROM bars_5m WHERE symbol = 'AAPL' ORDER BY bucket`);
    const aapl = bars.filter((value) => value.symbol === 'AAPL');
    expect(fiveMinute.rows).toEqual([
      {
        symbol: 'AAPL',
        open: aapl[0]!.open,
        close: aapl[4]!.close,
        volume: aapl.slice(0, 5).reduce((sum, value) => sum + value.volume, 0),
      },
      { symbol: 'AAPL', open: aapl[5]!.open, close: aapl[9]!.close, volume: aapl.slice(5).reduce((sum, value) => sum + value.volume, 0) },
    ]);
    // The API's bars surface, the same functions on both paths: here over the continuous aggregate.
    const second = new Date(aapl[5]!.windowStartMs);
    const ranged = await client.query(`SELECT symbol, open, close, volume FROM bars_5m_between('AAPL', $1, NULL) ORDER BY bucket`, [
      second,
    ]);
    expect(ranged.rows).toEqual([fiveMinute.rows[1]]);
    expect((await client.query(`SELECT count(*)::int AS n FROM bars_1m_between('AAPL', NULL, $1)`, [second])).rows[0].n).toBe(5);

    // Upserts reach compressed chunks too.
    await client.query(`SELECT compress_chunk(chunk) FROM show_chunks('bars_1m') AS chunk`);
    const corrected = { ...aapl[0]!, close: 123.25, high: 130 };
    await project(client, 'bars_1m', [{ row: barRow(corrected, 'MINUTE'), offset: 100 }]);
    const row = await client.query(`SELECT close FROM bars_1m WHERE symbol = 'AAPL' AND bucket = $1`, [new Date(corrected.windowStartMs)]);
    expect(row.rows).toEqual([{ close: 123.25 }]);
  });

  it('compresses old chunks segmented by symbol, as the API reads them, and reads from them return the same rows', async () => {
    const settings = await client.query(
      `SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc FROM timescaledb_information.compression_settings
       WHERE segmentby_column_index IS NOT NULL OR orderby_column_index IS NOT NULL ORDER BY 1, 2`,
    );
    // Segment by symbol: every API read of bars or events names one symbol; newest first within a segment.
    expect(settings.rows).toEqual([
      { hypertable_name: 'bars_1d', attname: 'bucket', segmentby_column_index: null, orderby_column_index: 1, orderby_asc: false },
      { hypertable_name: 'bars_1d', attname: 'symbol', segmentby_column_index: 1, orderby_column_index: null, orderby_asc: null },
      { hypertable_name: 'bars_1m', attname: 'bucket', segmentby_column_index: null, orderby_column_index: 1, orderby_asc: false },
      { hypertable_name: 'bars_1m', attname: 'symbol', segmentby_column_index: 1, orderby_column_index: null, orderby_asc: null },
      {
        hypertable_name: 'pattern_events',
        attname: 'detected_at',
        segmentby_column_index: null,
        orderby_column_index: 1,
        orderby_asc: false,
      },
      { hypertable_name: 'pattern_events', attname: 'symbol', segmentby_column_index: 1, orderby_column_index: null, orderby_asc: null },
    ]);
    const retention = await client.query(
      `SELECT hypertable_name, config->>'drop_after' AS drop_after FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' ORDER BY 1`,
    );
    // The topics' retention (platform/topics.ts, store/retention.ts), on the tables and their aggregates alike.
    expect(retention.rows).toEqual(
      ['bars_15m', 'bars_1h', 'bars_1m', 'bars_5m', 'pattern_counts_hourly', 'pattern_events'].map((name) => ({
        hypertable_name: name,
        drop_after: relationRetention(name as RetainedRelation),
      })),
    );

    const bars = minuteBars(['NVDA', 'AMD'], 30, Date.parse('2026-10-05T14:30:00Z'));
    await project(
      client,
      'bars_1m',
      bars.map((value, index) => ({ row: barRow(value, 'MINUTE'), offset: 1000 + index })),
    );
    // The API's reads (api/ bars and history): one symbol's minute and 5-minute bars in a range, its latest bar.
    const reads = async () => ({
      minutes: (await client.query(`SELECT * FROM bars_1m_between('NVDA', '2026-10-05', '2026-10-06') ORDER BY bucket`)).rows,
      fiveMinutes: (await client.query(`SELECT * FROM bars_5m_between('AMD', '2026-10-05', '2026-10-06') ORDER BY bucket`)).rows,
      latest: (await client.query(`SELECT * FROM bars_1m WHERE symbol = 'NVDA' ORDER BY bucket DESC LIMIT 1`)).rows,
      events: (
        await client.query(
          `SELECT event_id, kind, detected_at FROM pattern_events WHERE symbol = (SELECT min(symbol) FROM pattern_events) ORDER BY detected_at DESC, event_id`,
        )
      ).rows,
    });
    const before = await reads();
    expect(before.minutes).toHaveLength(30);
    expect(before.events.length).toBeGreaterThan(0);
    await client.query(`SELECT compress_chunk(chunk, if_not_compressed => true) FROM show_chunks('bars_1m') AS chunk`);
    await client.query(`SELECT compress_chunk(chunk, if_not_compressed => true) FROM show_chunks('pattern_events') AS chunk`);
    const uncompressed = await client.query(
      `SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name IN ('bars_1m', 'pattern_events') AND NOT is_compressed`,
    );
    expect(uncompressed.rows[0]).toEqual({ n: 0 });
    expect(await reads()).toEqual(before);
    // The symbol filter selects compressed segments by the index on the segment-by column (ColumnarScan, named
    // DecompressChunk before 2.2x); it is not applied to decompressed rows after the fact. A range inside a (seven-day)
    // chunk also selects batches by their time bounds in that index, and filters their rows vectorized.
    const plan = (await client.query(`EXPLAIN (COSTS OFF) SELECT * FROM bars_1m_between('NVDA', '2026-10-05', '2026-10-06')`)).rows
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    expect(plan).toMatch(
      /Custom Scan \((?:ColumnarScan|DecompressChunk)\) on _hyper_\d+_\d+_chunk\n(?:\s+Vectorized Filter: .*\n)?\s+-> {2}Index Scan using compress_hyper_\w+ on compress_hyper_\w+\n\s+Index Cond: \(\(?symbol = 'NVDA'::text\)/,
    );
    // The API's latest minute bars (the dashboard's read, no range): chunks newest first, each one's batches come out in
    // the segment's order (bucket DESC), so the LIMIT stops early and no decompressed row is sorted.
    const latest = (
      await client.query(`EXPLAIN (COSTS OFF) SELECT bucket FROM bars_1m_between('NVDA', NULL, NULL, 10) ORDER BY bucket`)
    ).rows
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    expect(latest).toMatch(/Limit\n\s+-> {2}(?:Result\n\s+-> {2})?Custom Scan \(ChunkAppend\) on bars_1m\n\s+Order: bars_1m\.bucket DESC/);
    expect(latest).not.toMatch(/Sort Key: _hyper_\d+_\d+_chunk\.bucket/);
  });

  // A backfill (REST, flat files) writes bars older than a refresh window: with a window of 3 days, the policy's run
  // moved the watermark past them and the 1h bars of everything older than 3 days disappeared from the aggregate.
  it('keeps backfilled bars in the aggregates once their refresh policies have run', async () => {
    await client.query(`INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume)
      SELECT 'BKFL', minute, 1, 1, 1, 1, 1 FROM generate_series(date_trunc('hour', now()) - interval '30 days', date_trunc('hour', now()) - interval '29 days' - interval '1 minute', interval '1 minute') AS minute
      UNION ALL
      SELECT 'BKFL', minute, 1, 1, 1, 1, 1 FROM generate_series(date_trunc('hour', now()) - interval '2 days', date_trunc('hour', now()) - interval '2 days' + interval '59 minutes', interval '1 minute') AS minute`);
    const hours = async () =>
      (await client.query(`SELECT count(*)::int AS n, sum(volume)::int AS volume FROM bars_1h_between('BKFL', NULL, NULL)`)).rows[0];
    expect(await hours()).toEqual({ n: 25, volume: 25 * 60 });
    const jobs = await client.query<{ job_id: number; view: string; start_offset: string | null }>(
      `SELECT job_id, hypertable_name AS view, config->>'start_offset' AS start_offset FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY 2`,
    );
    expect(jobs.rows.map((job) => [job.view, job.start_offset])).toEqual([
      ['bars_15m', null],
      ['bars_1h', null],
      ['bars_5m', null],
      ['pattern_counts_hourly', null],
    ]);
    await client.query(`CALL run_job($1)`, [jobs.rows.find((job) => job.view === 'bars_1h')!.job_id]);
    expect(await hours()).toEqual({ n: 25, volume: 25 * 60 });
  });

  // The 5m/15m/1h bars are real-time aggregates: a UNION of the materialized buckets below the watermark and the
  // minute bars above it, split at COALESCE(to_timestamp(cagg_watermark(id)), '-infinity'). TimescaleDB folds that call
  // into a constant in its planner hook, on the query tree it is handed, before PostgreSQL inlines SQL functions: the
  // API's read through an inlined SQL function (before migration 1797000000000) kept the call, planned every chunk of
  // bars_1m for the real-time part and filtered rows by the call (549 ms p50 against ~2 ms, bench bars-year).
  it("reads the real-time aggregates with their watermark folded into a constant (the API's bar read)", async () => {
    const own = await createTestDatabase('watermark');
    const reader = new pg.Client({ connectionString: own.url });
    try {
      await migrate(own.url, { timescale: 'on' });
      await reader.connect();
      // No policy run moves the watermark behind the test's back.
      await reader.query('SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE job_id >= 1000');
      const first = Date.parse('2026-09-14T13:30:00Z');
      await reader.query(
        `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume, vwap, transactions)
         SELECT 'WMRK', $1::timestamptz + make_interval(days => d, mins => m), 10 + m % 7, 12 + m % 7, 9, 11, 100 + m, 10.5, 3
           FROM generate_series(0, 9) d, generate_series(0, 389) m`,
        [new Date(first)],
      );
      const watermarkOf = async () =>
        (
          await reader.query<{ text: string }>(
            `SELECT watermark::text AS text FROM tf_aggregate_watermarks('bars_1m') WHERE view_name = 'bars_1h'`,
          )
        ).rows[0]!.text;
      const viewBars = async () =>
        (
          await reader.query<{ bucket: Date; volume: number }>(`SELECT bucket, volume FROM bars_1h WHERE symbol = 'WMRK' ORDER BY bucket`)
        ).rows.map((row) => [row.bucket.toISOString(), row.volume]);
      const planText = async (sql: string) =>
        (await reader.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`)).rows.map((row) => row['QUERY PLAN']).join('\n');
      const range = { from: first - DAY_MS, to: first + 11 * DAY_MS };
      const apiRead = async (limit: number) => {
        const { result, plans } = await executedPlans(reader, () => listBars(reader, 'WMRK', '1h', range.from, range.to, limit));
        const nested = plans.filter((plan) => plan.includes('FROM bars_1h v'));
        expect(nested).toHaveLength(1);
        return { bars: result.map((bar) => [bar.bucket, bar.volume]), plan: nested[0]! };
      };

      // Eight sessions materialized; the last two are aggregated from the minute bars at read time.
      await reader.query(`CALL refresh_continuous_aggregate('bars_1h', NULL, $1::timestamptz)`, [new Date(first + 8 * DAY_MS)]);
      let watermark = await watermarkOf();
      const [hourly] = (await aggregateWatermarks(reader, 'bars_1m')).filter((aggregate) => aggregate.view === 'bars_1h');
      expect(hourly!.watermarkMs).toBeGreaterThan(first);
      expect(hourly!.watermarkMs).toBeLessThan(first + 8 * DAY_MS);
      const expected = await viewBars();
      expect(expected).toHaveLength(10 * 7);

      // The cause: an inlined SQL function over the view (the earlier read) keeps the call; the view queried directly does not.
      await reader.query(
        `CREATE FUNCTION inlined_bars_1h(p_symbol text) RETURNS SETOF bars_1h LANGUAGE sql STABLE AS 'SELECT * FROM bars_1h WHERE symbol = p_symbol'`,
      );
      expect(await planText(`SELECT * FROM inlined_bars_1h('WMRK')`)).toMatch(/cagg_watermark/);
      const direct = await planText(`SELECT * FROM bars_1h WHERE symbol = 'WMRK'`);
      expect(direct).not.toMatch(/cagg_watermark/);
      expect(direct).toContain(`'${watermark}'::timestamp with time zone`);

      // The API's read: the function's own query carries the watermark as a constant, also once PL/pgSQL has cached a
      // generic plan (after five calls in a session), and returns the view's bars, real-time part included.
      for (let call = 1; call <= 7; call += 1) {
        const read = await apiRead(50_000);
        expect(read.plan).not.toMatch(/cagg_watermark/);
        expect(read.plan).toContain(`'${watermark}'::timestamp with time zone`);
        expect(read.bars).toEqual(expected);
      }
      expect((await apiRead(24)).bars).toEqual(expected.slice(-24));

      // A refresh moves the watermark: the cached plan is replaced (TimescaleDB invalidates it), the bars are the same.
      await reader.query(`CALL refresh_continuous_aggregate('bars_1h', NULL, $1::timestamptz)`, [new Date(first + 9 * DAY_MS)]);
      const moved = await watermarkOf();
      expect(moved).not.toBe(watermark);
      watermark = moved;
      const read = await apiRead(50_000);
      expect(read.plan).toContain(`'${watermark}'::timestamp with time zone`);
      expect(read.bars).toEqual(expected);
    } finally {
      await reader.end().catch(() => {});
      await own.drop();
    }
  });

  it("runs the API's scan and count queries", async () => {
    const base: ScanQuery = { filters: ALL, page: { sortBy: 'confidence', sortOrder: 'desc', perPage: 10, page: 1, cursor: undefined } };
    const firstPage = await client.query(buildScanSql(base));
    const active = await client.query(`SELECT count(*)::int AS n FROM patterns WHERE status = 'active' AND confidence >= 0.5`);
    expect(firstPage.rows.length).toBe(Math.min(11, active.rows[0].n));
    const confidences = firstPage.rows.map((row) => row.confidence);
    expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
    for (const sortBy of ['detected_at', 'symbol', 'rs', 'volume'] as const) {
      for (const sortOrder of ['asc', 'desc'] as const) {
        const page = await client.query(
          buildScanSql({ filters: { ...ALL, tiers: ['DAILY', 'INTRADAY'], rsMin: 0.5 }, page: { ...base.page, sortBy, sortOrder } }),
        );
        expect(page.rows.every((item) => item.tier !== 'COMBO')).toBe(true);
      }
    }
    const last = firstPage.rows[9];
    const next = await client.query(
      buildScanSql({ ...base, page: { ...base.page, cursor: { value: last.confidence, id: last.pattern_id, query: 'q' } } }),
    );
    expect(next.rows.every((item) => item.confidence <= last.confidence)).toBe(true);
    const total = await client.query(buildCountSql(ALL, 1000));
    expect(total.rows[0].total).toBe(active.rows[0].n);
  });

  it('swaps rebuilt hypertables in, recreating the continuous aggregate and its policy', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await createRebuildTables(pool, 'patterns');
      const events = patternEvents(30, 43);
      const held = await pool.connect();
      try {
        await project(
          held,
          'pattern_events',
          events.map((event, index) => ({ row: patternEventRow(event, { topic: 't', partition: 0, offset: index }), offset: index })),
          '__rebuild',
        );
        await held.query(
          `INSERT INTO projection_offsets (projection, topic, partition, next_offset) VALUES ('patterns__rebuild', 't', 0, 30)`,
        );
      } finally {
        held.release();
      }
      await swapRebuilt(pool, 'patterns');
      const counts = await pool.query(
        `SELECT (SELECT count(*)::int FROM pattern_events) AS events, (SELECT sum(count)::int FROM pattern_counts_hourly) AS detections`,
      );
      expect(counts.rows[0]).toEqual({ events: 30, detections: events.filter((event) => event.kind === 'DETECTED').length });
      const hypertables = await pool.query(
        `SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_name LIKE 'pattern%'`,
      );
      expect(hypertables.rows).toEqual([{ hypertable_name: 'pattern_events' }]);
      // The new aggregate gets its refresh policy and the topic's retention (tf_apply_all_history_retention at the swap).
      const aggregate = await pool.query(
        `SELECT proc_name, config->>'drop_after' AS drop_after, config ? 'start_offset' AND config->>'start_offset' IS NULL AS whole_history
           FROM timescaledb_information.jobs WHERE hypertable_name = 'pattern_counts_hourly' ORDER BY 1`,
      );
      expect(aggregate.rows).toEqual([
        { proc_name: 'policy_refresh_continuous_aggregate', drop_after: null, whole_history: true },
        { proc_name: 'policy_retention', drop_after: relationRetention('pattern_counts_hourly'), whole_history: false },
      ]);
      const leftovers = await pool.query(`SELECT relname FROM pg_class WHERE relname LIKE '%\\_\\_old%' OR relname LIKE '%\\_\\_rebuild%'`);
      expect(leftovers.rows).toEqual([]);
      const indexes = await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'patterns' ORDER BY 1`);
      // The rebuilt tables carry the live set: the covering scan indexes, none of the write-only ones (1796100000000).
      const names = indexes.rows.map((row) => row.indexname);
      expect(names).toEqual(
        expect.arrayContaining([
          'patterns_active_confidence_cover_idx',
          'patterns_active_pattern_cover_idx',
          'patterns_active_symbol_cover_idx',
          'patterns_active_detected_cover_idx',
          'patterns_pkey',
        ]),
      );
      for (const dropped of [
        'patterns_active_confidence_idx',
        'patterns_active_pattern_idx',
        'patterns_active_symbol_sort_idx',
        'patterns_active_tier_idx',
        'patterns_active_detected_idx',
        'patterns_active_rs_idx',
        'patterns_active_volume_idx',
      ])
        expect(names).not.toContain(dropped);
      const eventIndexes = await pool.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'pattern_events' ORDER BY 1`);
      expect(eventIndexes.rows.map((row) => row.indexname)).toEqual(['pattern_events_event_uq', 'pattern_events_pattern_id_idx']);
      expect((await pool.query(`SELECT projection, next_offset::int FROM projection_offsets`)).rows).toEqual([
        { projection: 'patterns', next_offset: 30 },
      ]);
    } finally {
      await pool.end();
    }
  });
});
