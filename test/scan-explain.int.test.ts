import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCountSql, buildScanSql, type ScanPage, type ScanQuery, type SqlStatement } from '../api/scan.js';
import { createTestDatabase, testServer, type TestDatabase } from './postgres.js';
import { barRow, patternEventRow, symbolRow } from '../projections/core.js';
import { FIXTURE_START_MS, minuteBars, patternEvents, symbolReference } from './record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { PgBatchWriter, type PreparedMessage } from '../projections/pg-writer.js';
import { ACTIVE_SCAN_FILTERS } from '../api/testing.js';
import { executedPlans } from './executed-plans.js';

const PATTERN_EVENTS = 60_000;
const SYMBOLS = 2_000;

const ALL = ACTIVE_SCAN_FILTERS;
/** The scan SQL as the API sends it for a broad filter: the page's ids from the covering indexes, then its rows. */
const scanSql = (query: ScanQuery): SqlStatement => buildScanSql(query, { lateLookup: true });
const PAGE: ScanPage = { sortBy: 'confidence', sortOrder: 'desc', perPage: 30, page: 1, cursor: undefined };
/** Both storage paths write their document: the plain one EXPLAIN.md, the TimescaleDB one EXPLAIN-timescale.md. */
const SERVER = testServer();
const TIMESCALE = SERVER === 'timescale';

/** Spread the fixture's patterns over many symbols (each pattern keeps one symbol), as in a real market. */
function symbolOf(patternId: string): string {
  let hash = 0;
  for (const character of patternId) hash = (hash * 31 + character.charCodeAt(0)) >>> 0;
  return `S${String(hash % SYMBOLS).padStart(4, '0')}`;
}

/**
 * The API's main queries against a loaded database, with their plans: each must be served by an index
 * (no sequential scan of patterns, no sort of the whole table). `PROJECTIONS_WRITE_EXPLAIN=1` writes the plans
 * to projections/EXPLAIN.md.
 */
describe(`EXPLAIN of the API's queries (${TIMESCALE ? 'TimescaleDB, hypertables and continuous aggregates' : 'PostgreSQL, partitioned path'})`, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const plans: { title: string; sql: string; plan: string }[] = [];

  const explain = async (title: string, statement: SqlStatement): Promise<string> => {
    const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${statement.text}`,
      statement.values,
    );
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    plans.push({ title, sql: statement.text, plan });
    return plan;
  };

  /** The plans executed for a statement, nested ones included (a PL/pgSQL function's query: auto_explain). */
  const explainExecuted = async (title: string, statement: SqlStatement): Promise<string> => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { plans: executed } = await executedPlans(client, () => client.query(statement.text, statement.values));
      // As the EXPLAINs above: no costs and no durations (auto_explain has no switch for either), so the document
      // changes only when a plan does.
      const plan = executed
        .map((entry) => entry.replace(/^duration: [\d.]+ ms\s+plan:\n/, '').replace(/ {2}\(cost=[^)]*\)/g, ''))
        .join('\n\n');
      plans.push({ title, sql: statement.text, plan });
      return plan;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('explain');
    await migrate(db.url, { timescale: TIMESCALE ? 'on' : 'off' });
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const writer = new PgBatchWriter(pool, { projection: 'explain' });
    const events = patternEvents(PATTERN_EVENTS, 51).map((event) => ({ ...event, symbol: symbolOf(event.patternId) }));
    const messages: PreparedMessage[] = events.map((event, offset) => ({
      offset,
      kind: 'row',
      row: patternEventRow(event, { topic: 'p', partition: 0, offset }),
    }));
    let believed: number | undefined;
    for (let start = 0; start < messages.length; start += 20_000) {
      const outcome = await writer.write({
        table: 'pattern_events',
        topic: 'p',
        partition: 0,
        messages: messages.slice(start, start + 20_000),
        believed,
      });
      if (outcome.action === 'apply') believed = outcome.nextOffset;
    }
    const symbols = Array.from({ length: SYMBOLS }, (_, index) => `S${String(index).padStart(4, '0')}`);
    const sectors = ['Technology', 'Energy', 'Financials', 'Health Care', 'Utilities'];
    await writer.write({
      table: 'symbols',
      topic: 's',
      partition: 0,
      messages: symbols.map((ticker, offset) => ({
        offset,
        kind: 'row',
        row: symbolRow(symbolReference(ticker, { name: `${ticker} Holdings`, sector: sectors[offset % sectors.length]! })),
      })),
      believed: undefined,
    });
    // 100 minute bars for each of 200 symbols on the fixture day, plus five earlier months of history for S0001 (so
    // that a time range on the 5m/15m/1h bars has partitions to prune).
    const history = [5, 4, 3, 2, 1].flatMap((monthsBack) => {
      const start = new Date(FIXTURE_START_MS);
      start.setUTCMonth(start.getUTCMonth() - monthsBack);
      return minuteBars(['S0001'], 100, start.getTime());
    });
    const bars = [...history, ...minuteBars(symbols.slice(0, 200), 100)];
    await writer.write({
      table: 'bars_1m',
      topic: 'b',
      partition: 0,
      messages: bars.map((value, offset) => ({ offset, kind: 'row', row: barRow(value, 'MINUTE') })),
      believed: undefined,
    });
    await pool.query('ANALYZE');
  });

  afterAll(async () => {
    if (process.env.PROJECTIONS_WRITE_EXPLAIN === '1' && plans.length > 0) {
      const counts = `${PATTERN_EVENTS} pattern events (${SYMBOLS} symbols), ${SYMBOLS} symbols, 20,500 minute bars (100 for each of 200 symbols on one day, and 100 a month over five earlier months for S0001)`;
      const body = plans.map(({ title, sql, plan }) => `### ${title}\n\n\`\`\`sql\n${sql}\n\`\`\`\n\n\`\`\`\n${plan}\n\`\`\``).join('\n\n');
      const notes = TIMESCALE
        ? `Bars: the API reads them through \`<relation>_between(symbol, from, to, latest)\` (migrations 1795900000000 and ` +
          `1797000000000); on this path bars_1m is a hypertable (seven-day chunks) and bars_5m/15m/1h are real-time ` +
          `continuous aggregates, read by PL/pgSQL functions whose query TimescaleDB plans with the aggregate's watermark ` +
          `folded into a constant and the limit inside (below, auto_explain's plan of that nested query comes first, then ` +
          `the caller's Function Scan), so a range reads the materialized buckets plus the not-yet-materialized minute bars ` +
          `of the chunks in the range, by index. ` +
          `The plain path's document is EXPLAIN.md.`
        : `Bars: the API reads them through \`<relation>_between(symbol, from, to, latest)\` (migrations 1795900000000 and ` +
          `1797000000000), with the limit inside the function; on this plain path they are inlined SQL functions. The ` +
          `5m/15m/1h views group minute bars by date_bin(bucket), so a time predicate on the view does not prune partitions ` +
          `("before" below: every month holding the symbol is read); the functions put the range on bars_1m.bucket itself ` +
          `("after": only the partition of the range is read, and the limit applies to the aggregated buckets, newest first). ` +
          `On the TimescaleDB path the 5m/15m/1h ones are PL/pgSQL functions over the continuous aggregates (EXPLAIN-timescale.md).`;
      writeFileSync(
        fileURLToPath(new URL(TIMESCALE ? '../projections/EXPLAIN-timescale.md' : '../projections/EXPLAIN.md', import.meta.url)),
        `# EXPLAIN of the API's main queries${TIMESCALE ? ' (TimescaleDB path)' : ''}\n\nGenerated by \`PROJECTIONS_WRITE_EXPLAIN=1 npx vitest run --project ${TIMESCALE ? 'integration-timescale' : 'integration'} test/scan-explain.int.test.ts\` ` +
          `on ${TIMESCALE ? 'PostgreSQL 15 with TimescaleDB 2.28 (hypertables, continuous aggregates)' : 'PostgreSQL 15 (partitioned path, no TimescaleDB)'} loaded with ${counts}, after ANALYZE. ` +
          `The scan SQL is the API's own (api/scan.ts buildScanSql with lateLookup, as api/patterns-store.ts sends a broad scan, and buildCountSql); the test asserts the index each query uses.\n\n` +
          `Notes: every scan sort is served by a partial index over active patterns (read forwards or backwards; the page's ids first, ` +
          `then its rows by primary key), so a page costs ` +
          `LIMIT rows whatever the table size; filters that the index does not lead with (tiers, pattern types, rs) are applied ` +
          `while walking it. Watchlist and sector scans fetch the few matching rows by symbol and sort them (top-N). The capped ` +
          `count reads up to the cap. ${notes}\n\n${body}\n`,
      );
    }
    await pool?.end();
    await db?.drop();
  });

  it('serves the default scan (active, confidence >= 0.5, by confidence) from the confidence index, without a sort', async () => {
    const plan = await explain('Default scan: active, confidence >= 0.5, sort by confidence desc', scanSql({ filters: ALL, page: PAGE }));
    expect(plan).toMatch(/Index Only Scan using patterns_active_confidence_cover_idx/);
    expect(plan).not.toMatch(/Seq Scan on patterns/);
  });

  it('serves the next page by keyset from the same index', async () => {
    const first = await pool.query(scanSql({ filters: ALL, page: PAGE }));
    const last = first.rows[PAGE.perPage - 1];
    const plan = await explain(
      'Next page by keyset cursor',
      scanSql({ filters: ALL, page: { ...PAGE, cursor: { value: last.confidence, id: last.pattern_id, query: 'q' } } }),
    );
    expect(plan).toMatch(/Index Only Scan using patterns_active_confidence_cover_idx/);
    expect(plan).toMatch(/Index Cond: .*ROW\(confidence, pattern_id\) <|Index Cond: .*\(confidence, pattern_id\) </);
  });

  it('serves each sort order from its index (forwards or backwards)', async () => {
    // Either the plain ordering index or its covering twin (api's 1796200000000), whichever the migrations left.
    const expected = {
      detected_at: 'patterns_active_detected(?:_cover)?_idx',
      rs: 'patterns_active_rs(?:_cover)?_idx',
      volume: 'patterns_active_volume(?:_cover)?_idx',
      symbol: 'patterns_active_symbol_cover_idx',
    } as const;
    for (const [sortBy, index] of Object.entries(expected) as [keyof typeof expected, string][]) {
      for (const sortOrder of ['desc', 'asc'] as const) {
        const plan = await explain(`Sort by ${sortBy} ${sortOrder}`, scanSql({ filters: ALL, page: { ...PAGE, sortBy, sortOrder } }));
        expect(plan).toMatch(new RegExp(`Index (?:Only )?Scan(?: Backward)? using ${index}`));
        expect(plan).not.toMatch(/Seq Scan on patterns/);
      }
    }
  });

  it('serves a watchlist scan (a few symbols) from the symbol index', async () => {
    const plan = await explain(
      'Watchlist scan: 5 symbols, by confidence',
      scanSql({ filters: { ...ALL, symbols: ['S0001', 'S0002', 'S0003', 'S0004', 'S0005'] }, page: PAGE }),
    );
    expect(plan).toMatch(/patterns_active_symbol_cover_idx|patterns_symbol_detected_idx/);
    expect(plan).not.toMatch(/Seq Scan on patterns/);
  });

  it('plans the filtered scans and the capped count', async () => {
    await explain(
      'Scan: pattern types + tiers, rs >= 1.15, by confidence',
      scanSql({ filters: { ...ALL, patternTypes: ['doji', 'hammer'], tiers: ['DAILY'], rsMin: 1.15 }, page: PAGE }),
    );
    await explain(
      'Scan: sectors (sub-select on symbols), by confidence',
      scanSql({ filters: { ...ALL, sectors: ['energy'] }, page: PAGE }),
    );
    // The tier summaries (api/patterns-store.ts): with three tiers, the confidence and detected_at indexes find a
    // tier's first rows at once, so no index of their own (dropped in 1796100000000).
    const topOfTier = await explain('Summary: top 5 of a tier by confidence', {
      text: `SELECT pattern_id, confidence FROM patterns p WHERE p.status = 'active' AND p.tier = $1 ORDER BY p.confidence DESC, p.pattern_id DESC LIMIT 5`,
      values: ['DAILY'],
    });
    // Or the narrow (tier, confidence, id) index (1796500000000), which holds a tier's rows in this order.
    expect(topOfTier).toMatch(/Index (Only )?Scan using patterns_active_(?:confidence_cover|tier_count)_idx/);
    const latestOfTier = await explain('Summary: latest detection of a tier', {
      text: `SELECT detected_at FROM patterns WHERE status = 'active' AND tier = $1 ORDER BY detected_at DESC, pattern_id DESC LIMIT 1`,
      values: ['DAILY'],
    });
    expect(latestOfTier).toMatch(/Index (Only )?Scan using patterns_active_detected(_cover)?_idx/);
    const count = await explain('Capped count of the default scan', buildCountSql(ALL, 10_000));
    expect(count).toMatch(/Limit/);
  });

  it('serves symbol look-ups, prefix search, latest bars and pattern history from indexes', async () => {
    const search = await explain('Symbol prefix search (ticker or name)', {
      text: `SELECT ticker, name FROM symbols WHERE (ticker LIKE $1 OR lower(name) LIKE $2) ORDER BY CASE WHEN ticker LIKE $1 THEN 0 ELSE 1 END, ticker LIMIT 50`,
      values: ['S001%', 's001%'],
    });
    expect(search).toMatch(/symbols_ticker_prefix_idx/);
    const bar = await explain('Latest minute bar of a symbol', {
      text: 'SELECT * FROM bars_1m WHERE symbol = $1 ORDER BY bucket DESC LIMIT 1',
      values: ['S0001'],
    });
    // Plain: the newest monthly partition's primary key. TimescaleDB: the chunks in time order (ChunkAppend), newest first.
    expect(bar).toMatch(
      TIMESCALE
        ? /Custom Scan \(ChunkAppend\) on bars_1m[\s\S]*Index Scan Backward using "\d+_bars_1m_pkey" on _hyper_\d+_\d+_chunk \(actual rows=1/
        : /Index Scan Backward using bars_1m_p\d+_pkey/,
    );
    expect(bar).not.toMatch(/Seq Scan/);
    const history = await pool.query('SELECT pattern_id, symbol FROM patterns LIMIT 1');
    // Every event of the pattern (api/patterns-store.ts findPattern): not only those at its current detected_at.
    const events = await explain('Events of one pattern', {
      text: 'SELECT event_id, kind, detected_at FROM pattern_events WHERE pattern_id = $1 AND symbol = $2 ORDER BY kafka_offset LIMIT 1000',
      values: [history.rows[0].pattern_id, history.rows[0].symbol],
    });
    // No time bound (UPDATED events re-stamp detected_at), so every partition is probed: those holding events through
    // their pattern-id index; only empty ones, where a sequential scan reads nothing, may be scanned. (Partitions on the
    // plain path, chunks of the hypertable on the TimescaleDB path; the plan names a chunk without its schema.)
    const filled = (
      await pool.query<{ partition: string }>('SELECT DISTINCT tableoid::regclass::text AS partition FROM pattern_events')
    ).rows.map((row) => row.partition.replace(/^.*\./, ''));
    expect(filled.length).toBeGreaterThan(0);
    for (const partition of filled)
      expect(events).toMatch(new RegExp(`(Index Scan using "?\\S+"? on ${partition} |Bitmap Heap Scan on ${partition} )`));
    for (const scanned of events.matchAll(/Seq Scan on (\S+)/g)) expect(filled).not.toContain(scanned[1]);
    const range = ['S0001', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z', 100];
    const before = await explain(
      "Before: 5-minute bars of a symbol in a day, latest 100 (plain view over bars_1m, the API's earlier query)",
      {
        text: 'SELECT * FROM (SELECT bucket, open, high, low, close, volume, vwap, transactions FROM bars_5m WHERE symbol = $1 AND bucket >= $2::timestamptz AND bucket < $3::timestamptz ORDER BY bucket DESC LIMIT $4) latest ORDER BY bucket',
        values: range,
      },
    );
    const apiRead = {
      text: 'SELECT bucket, open, high, low, close, volume, vwap, transactions FROM bars_5m_between($1, $2::timestamptz, $3::timestamptz, $4::int) ORDER BY bucket',
      values: range,
    };
    const title = "After: the same through bars_5m_between (the API's query)";
    const after = TIMESCALE ? await explainExecuted(title, apiRead) : await explain(title, apiRead);
    if (TIMESCALE) {
      // Real-time aggregate, read by the function's own query: the watermark is a constant there (no cagg_watermark
      // call left), and the range reaches the minute bars' chunks: only the range's chunk is read, by its key.
      expect(after).toMatch(/Query Text: SELECT v\.symbol/);
      expect(after).not.toMatch(/cagg_watermark/);
      expect(after).toMatch(/_hyper_\d+_\d+_chunk/);
      expect(new Set(after.match(/_hyper_\d+_\d+_chunk(?=\b| )/g))).toHaveProperty('size', 1);
    } else {
      // The time predicate reaches bars_1m as date_bin(bucket) >= ...: no pruning, every month holding S0001 is read.
      expect(before).toMatch(/bars_1m_p202606/);
      expect(before).toMatch(/bars_1m_p202611/);
      // Only the range's partition, read by its primary key (symbol, bucket).
      expect(after).toMatch(/Index Scan using bars_1m_p202611_pkey on bars_1m_p202611/);
      expect(after.match(/on bars_1m_\w+/g)).toEqual(['on bars_1m_p202611']);
    }
    const viewRows = await pool.query(
      `SELECT * FROM bars_5m WHERE symbol = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket`,
      range.slice(0, 3),
    );
    const functionRows = await pool.query(`SELECT * FROM bars_5m_between($1, $2, $3) ORDER BY bucket`, range.slice(0, 3));
    expect(functionRows.rows).toHaveLength(20);
    // The same bars; the vwap is a sum of products, whose last bits depend on the order the plan feeds the rows in.
    const roundedVwap = (rows: { vwap: number | null }[]) =>
      rows.map((row) => ({ ...row, vwap: row.vwap === null ? null : Number(row.vwap.toPrecision(12)) }));
    expect(roundedVwap(functionRows.rows)).toEqual(roundedVwap(viewRows.rows));
    await explain('Hourly detections (pattern_counts_hourly view) over 24 h', {
      text: 'SELECT bucket, sum(count)::bigint AS count FROM pattern_counts_hourly WHERE bucket >= $1::timestamptz GROUP BY bucket ORDER BY bucket',
      values: ['2026-11-25T00:00:00Z'],
    });
  });
});
