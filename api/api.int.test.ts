import { Writable } from 'node:stream';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { Redis } from 'ioredis';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import pg from 'pg';
import { randomUUID as randomUuid } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, createMetricsRegistry, loadAuthConfig, loadPlatformConfig, TokenService } from '../platform/index.js';
import { migrate } from '../store/migrate.js';
import { Notifier, createNoticeMetrics } from '../store/notifier.js';
import type { PatternChange } from '../contracts/pattern-scopes.js';
import { redisKeys, type ProjectionNotice } from '../contracts/redis-keys.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { createApp } from './app.js';
import { loadApiConfig } from './config.js';
import { createPreparedPool, preparedStatements } from './prepared.js';
import { normaliseScanQuery, queryIdentity, type SortKey } from './scan.js';
import { startApi } from './server.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as FormatsPlugin;

const T0 = Date.parse('2026-11-25T15:00:00Z');
const clock = { now: T0 };
const platform = loadPlatformConfig();
const prefix = uniqueRedisPrefix('api');
const keys = redisKeys(prefix);

let database: TestDatabase;
let pool: pg.Pool;
/** The API's pool of prepared statements (as startApi makes it), so the routes run as in production. */
let preparedPool: pg.Pool;
let redis: Redis;
let app: ReturnType<typeof createApp>;
let validators: { template: string; pattern: RegExp; method: string; status: string; validate: ValidateFunction | undefined }[] = [];
let documentPaths: string[] = [];

const SYMBOLS = [
  { ticker: 'AAPL', name: 'Apple Inc.', type: 'CS', sector: 'Technology', active: true },
  { ticker: 'MSFT', name: 'Microsoft Corp', type: 'CS', sector: 'Technology', active: true },
  { ticker: 'XOM', name: 'Exxon Mobil Corp', type: 'CS', sector: 'Energy', active: true },
  { ticker: 'SPY', name: 'SPDR S&P 500 ETF', type: 'ETF', sector: null, active: true },
  { ticker: 'OLDCO', name: 'Old Company', type: 'CS', sector: 'Energy', active: false },
];
const PATTERNS = ['doji', 'hammer', 'bullish_engulfing', 'volume_spike'];
const TIERS = ['DAILY', 'INTRADAY', 'COMBO'];

interface SeededPattern {
  id: string;
  symbol: string;
  pattern: string;
  tier: string;
  status: string;
  confidence: number;
  rs: number | null;
  rvol: number | null;
  rsi: number;
  volume: number;
  detectedAt: number;
}

const seeded: SeededPattern[] = Array.from({ length: 48 }, (_, i) => ({
  id: `pat-${String(i).padStart(3, '0')}`,
  symbol: ['AAPL', 'MSFT', 'XOM', 'SPY'][i % 4]!,
  pattern: PATTERNS[Math.floor(i / 4) % 4]!,
  tier: TIERS[i % 3]!,
  status: i % 7 === 6 ? 'expired' : 'active',
  confidence: Math.round((0.3 + (i % 14) * 0.05) * 100) / 100,
  rs: i % 5 === 0 ? null : 0.8 + (i % 9) * 0.05,
  rvol: i % 6 === 0 ? null : 0.5 + (i % 8) * 0.25,
  rsi: 20 + ((i * 7) % 60),
  volume: 10_000 + ((i * 37) % 23) * 1000,
  detectedAt: T0 - i * 600_000,
}));

async function seed(db: pg.Pool): Promise<void> {
  for (const symbol of SYMBOLS) {
    await db.query(
      `INSERT INTO symbols (ticker, name, market, locale, type, active, primary_exchange, currency_name, cik, composite_figi, market_cap, sector, list_date, updated_at)
       VALUES ($1, $2, 'stocks', 'us', $3, $4, 'XNAS', 'usd', '0000320193', 'BBG000B9XRY4', 3.0e12, $5, '1980-12-12', now())`,
      [symbol.ticker, symbol.name, symbol.type, symbol.active, symbol.sector],
    );
  }
  await db.query(
    `INSERT INTO fundamentals (symbol, as_of_date, fiscal_period, fiscal_year, eps, eps_estimate, eps_surprise_pct, revenue, revenue_yoy_growth_pct, market_cap, price_to_earnings, source, updated_at)
     VALUES ('AAPL', '2026-09-30', 'Q4', 2026, 1.64, 1.60, 2.5, 9.4e10, 6.1, 3.0e12, 31.2, 'massive', now())`,
  );
  for (let minute = 0; minute < 30; minute += 1) {
    const bucket = new Date(Date.parse('2026-11-25T14:00:00Z') + minute * 60_000).toISOString();
    await db.query(
      `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume, vwap, transactions) VALUES ('AAPL', $1, $2::float8, $2::float8 + 1, $2::float8 - 1, $2::float8 + 0.5, 1000, $2::float8 + 0.2, 10)`,
      [bucket, 190 + minute],
    );
  }
  for (let day = 0; day < 5; day += 1) {
    const bucket = new Date(Date.parse('2026-11-18T00:00:00Z') + day * 86_400_000).toISOString();
    await db.query(
      `INSERT INTO bars_1d (symbol, bucket, open, high, low, close, volume, vwap, transactions) VALUES ('AAPL', $1, 180, 185, 175, 182, 5e7, 181, 400000)`,
      [bucket],
    );
  }
  for (const [i, row] of seeded.entries()) {
    const detected = new Date(row.detectedAt).toISOString();
    const expires = new Date(row.detectedAt + 86_400_000).toISOString();
    const values = [
      row.id,
      row.pattern,
      row.tier,
      row.symbol,
      detected,
      expires,
      row.confidence,
      row.volume,
      row.rs,
      row.rvol,
      row.rsi,
      row.status,
      i,
    ];
    await db.query(
      `INSERT INTO patterns (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
         fundamental_adjustment, fundamental_reasons, price, change, change_pct, volume, relative_strength, relative_volume, rsi, levels, status,
         last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
       VALUES ($1, $2, 1, $3, 'BULLISH', $4, $5, $6, $7, $7, 0, '{}', 100, 1.5, 1.2, $8, $9, $10, $11, '{"support": 95}', $12, 'ev-' || $1, 'DETECTED', 'patterns', 0, $13)`,
      values,
    );
    await db.query(
      `INSERT INTO pattern_events (event_id, kind, pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
         price, volume, relative_strength, relative_volume, rsi, kafka_topic, kafka_partition, kafka_offset)
       VALUES ('ev-' || $1, 'DETECTED', $1, $2, 1, $3, 'BULLISH', $4, $5, $6, $7, $7, 100, $8, $9, $10, $11, 'patterns', 0, $12)`,
      [row.id, row.pattern, row.tier, row.symbol, detected, expires, row.confidence, row.volume, row.rs, row.rvol, row.rsi, i],
    );
  }
}

function apiConfig(overrides: Record<string, string> = {}) {
  return loadApiConfig({
    API_REDIS_PREFIX: `${prefix}api:`,
    API_RATE_LIMIT_PER_MINUTE: '100000',
    API_AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    API_CORS_ORIGINS: 'http://dash.example',
    ...overrides,
  });
}

function buildApp(
  options: {
    redis?: Redis | undefined;
    config?: Record<string, string>;
    lag?: number;
    notices?: (listener: (notice: ProjectionNotice) => void) => void;
    scanCountCap?: number;
    marketClockRefreshMs?: number;
  } = {},
) {
  return createApp({
    db: pool,
    preparedDb: preparedStatements(preparedPool),
    redis: 'redis' in options ? options.redis : redis,
    tokens: new TokenService(loadAuthConfig({}), () => clock.now),
    config: apiConfig(options.config),
    logger: createLogger('api-test', { level: 'silent' }),
    registry: createMetricsRegistry('api', { collectDefaults: false }),
    readModelKeys: keys,
    projectionLag: options.lag === undefined ? undefined : async () => ({ records: options.lag!, partitions: 1 }),
    now: () => clock.now,
    notices: options.notices,
    scanCountCap: options.scanCountCap,
    marketClockRefreshMs: options.marketClockRefreshMs,
  });
}

async function metricValue(target: ReturnType<typeof createApp>, line: string): Promise<number> {
  const text = await (await target.request('/metrics')).text();
  const found = text.split('\n').find((candidate) => candidate.startsWith(line));
  return found ? Number(found.split(' ').at(-1)) : 0;
}

/** A parsed response body; its shape is checked against the OpenAPI document at run time before tests read it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Reply {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

/** Calls the app and checks the response against the OpenAPI document (status documented, body valid). */
/** Market data needs a credential: calls to it without one of their own carry the reader's token unless `anonymous`. */
const isMarketData = (url: string) => /^\/api\/(patterns|symbols)(\/|\?|$)/.test(url);
let readerToken: string;
/** Headers of a direct app.request() or fetch() to market data. */
const asReader = (headers: Record<string, string> = {}) => ({ ...headers, authorization: `Bearer ${readerToken}` });
/** The same for a server started with startApi, whose tokens are checked against the wall clock. */
let liveReaderToken: string;
const asLiveReader = (headers: Record<string, string> = {}) => ({ ...headers, authorization: `Bearer ${liveReaderToken}` });

async function call(
  method: string,
  url: string,
  options: {
    body?: unknown;
    token?: string;
    headers?: Record<string, string>;
    target?: ReturnType<typeof createApp>;
    anonymous?: boolean;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  else if (!options.anonymous && isMarketData(url) && headers.authorization === undefined && headers['x-api-key'] === undefined)
    headers.authorization = `Bearer ${readerToken}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await (options.target ?? app).request(url, { method, headers, body });
  const text = await response.text();
  const path = new URL(url, 'http://x').pathname;
  const route = validators.find((entry) => entry.method === method.toLowerCase() && entry.pattern.test(path));
  const parsed = text && (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : {};
  if (route && response.status !== 404) {
    const documented = validators.filter((entry) => entry.template === route.template && entry.method === route.method);
    const match = documented.find((entry) => entry.status === String(response.status));
    expect(match, `${method} ${route.template} answered ${response.status}, which the OpenAPI document does not list`).toBeDefined();
    if (match?.validate && !match.validate(parsed)) {
      throw new Error(
        `${method} ${url} ${response.status} does not match the OpenAPI schema: ${JSON.stringify(match.validate.errors)}\n${text.slice(0, 500)}`,
      );
    }
  }
  if (response.status >= 400) expect(response.headers.get('content-type')).toContain('application/problem+json');
  expect(response.headers.get('x-request-id')).toBeTruthy();
  return { status: response.status, headers: response.headers, body: parsed, text };
}

async function registerUser(email: string) {
  const reply = await call('POST', '/api/auth/register', { body: { email, password: 'correct horse battery staple' } });
  expect(reply.status).toBe(201);
  return reply.body as { access_token: string; refresh_token: string; user: { id: string } };
}

beforeAll(async () => {
  database = await createTestDatabase('api');
  await migrate(database.url);
  pool = new pg.Pool({ connectionString: database.url, max: 8 });
  preparedPool = createPreparedPool(database.url, apiConfig())!;
  // An idle client ended by the server (a restart by another test on the shared stack) must not crash the run.
  pool.on('error', () => undefined);
  preparedPool.on('error', () => undefined);
  await seed(pool);
  redis = new Redis(platform.REDIS_URL, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  await redis.ping();
  app = buildApp();
  const reader = await (
    await app.request('/api/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'reader@example.com', password: 'correct horse battery staple' }),
    })
  ).json();
  readerToken = (reader as { access_token: string }).access_token;
  liveReaderToken = (await new TokenService(loadAuthConfig({})).issueAccessToken({ userId: (reader as { user: { id: string } }).user.id }))
    .token;
  const document = (await (await app.request('/openapi.json')).json()) as Parameters<typeof SwaggerParser.validate>[0];
  await SwaggerParser.validate(structuredClone(document));
  const dereferenced = (await SwaggerParser.dereference(structuredClone(document))) as unknown as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  documentPaths = Object.keys(dereferenced.paths);
  // Literal paths before templated ones, so /api/patterns/scan is not taken for /api/patterns/{id}.
  const templates = [...documentPaths].sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  validators = templates.flatMap((template) =>
    Object.entries(dereferenced.paths[template]!).flatMap(([method, operation]) =>
      Object.entries(operation.responses).map(([status, response]) => {
        const schema = response.content?.['application/json']?.schema ?? response.content?.['application/problem+json']?.schema;
        return {
          template,
          pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`),
          method,
          status,
          validate: schema ? ajv.compile(schema) : undefined,
        };
      }),
    ),
  );
}, 180_000);

afterAll(async () => {
  if (redis) {
    const leftovers = await redis.keys(`${prefix}*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    redis.disconnect();
  }
  await preparedPool?.end();
  await pool?.end();
  await database?.drop();
});

describe('OpenAPI', () => {
  it('documents every route, validates, and serves a docs page', async () => {
    for (const path of [
      '/api/patterns/scan',
      '/api/patterns/{id}',
      '/api/patterns/stats',
      '/api/patterns/counts',
      '/api/patterns/summary',
      '/api/symbols',
      '/api/symbols/{symbol}',
      '/api/symbols/{symbol}/bars',
      '/api/auth/register',
      '/api/auth/login',
      '/api/auth/refresh',
      '/api/auth/api-keys',
      '/api/users/universe',
      '/api/users/universe/{key}',
      '/health',
      '/ready',
      '/metrics',
    ]) {
      expect(documentPaths).toContain(path);
    }
    const document = await call('GET', '/openapi.json');
    expect(document.body.openapi).toBe('3.1.0');
    const docs = await app.request('/docs');
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('/openapi.json');
  });
});

const active = (filter: (row: SeededPattern) => boolean = () => true) =>
  seeded.filter((row) => row.status === 'active' && row.confidence >= 0.5 && filter(row));

/** Cursors with the right query hash (it can be recomputed) but values of the wrong type: [query, field] pairs. */
function badCursors(): [string, string][] {
  const scan = { timeframe: 'all', status: 'active', confidence_min: 0.5, sort_order: 'desc', page: 1, per_page: 30 } as const;
  const forged = (sortBy: SortKey, value: unknown, id: unknown = 'pat-001') => {
    const identity = queryIdentity(normaliseScanQuery({ ...scan, sort_by: sortBy }, undefined).filters, sortBy, 'desc');
    const text =
      typeof value === 'string' && value.startsWith('raw:')
        ? `[${value.slice(4)},${JSON.stringify(id)},"${identity}"]`
        : JSON.stringify([value, id, identity]);
    return [`sort_by=${sortBy}&cursor=${Buffer.from(text, 'utf8').toString('base64url')}`, 'cursor'] as [string, string];
  };
  return [
    forged('confidence', 'not a number'),
    forged('confidence', 'raw:1e999'),
    forged('volume', '12'),
    forged('rs', 'abc'),
    forged('detected_at', 12),
    forged('detected_at', 'yesterday'),
    forged('detected_at', '0000-01-01T00:00:00Z'),
    forged('symbol', 42),
    forged('confidence', 0.5, 'nul\u0000id'),
    forged('confidence', 0.5, 'x'.repeat(300)),
    forged('confidence', 0.5, ''),
  ];
}

describe('GET /api/patterns/scan', () => {
  it('returns active patterns at confidence >= 0.5 by default, most confident first, with total and timings', async () => {
    const reply = await call('GET', '/api/patterns/scan?per_page=100');
    expect(reply.status).toBe(200);
    const expected = active().sort((a, b) => b.confidence - a.confidence || (a.id < b.id ? 1 : -1));
    expect(reply.body.data.map((row: { id: string }) => row.id)).toEqual(expected.map((row) => row.id));
    expect(reply.body.pagination).toMatchObject({ total: expected.length, page: 1, has_more: false, next_cursor: null });
    expect(reply.body.timings.total_ms).toBeGreaterThanOrEqual(0);
    const first = reply.body.data[0];
    expect(first.age_seconds).toBe((T0 - Date.parse(first.detected_at)) / 1000);
  });

  it('applies every dashboard filter', async () => {
    const ids = async (query: string) =>
      ((await call('GET', `/api/patterns/scan?per_page=100&${query}`)).body.data as { id: string }[]).map((row) => row.id).sort();
    const expectIds = (rows: SeededPattern[]) => rows.map((row) => row.id).sort();
    expect(await ids('pattern_types=doji,hammer')).toEqual(expectIds(active((row) => row.pattern === 'doji' || row.pattern === 'hammer')));
    expect(await ids('pattern_types=doji&pattern_types=hammer')).toEqual(
      expectIds(active((row) => row.pattern === 'doji' || row.pattern === 'hammer')),
    );
    expect(await ids('symbols=aapl')).toEqual(expectIds(active((row) => row.symbol === 'AAPL')));
    expect(await ids('sectors=technology')).toEqual(expectIds(active((row) => row.symbol === 'AAPL' || row.symbol === 'MSFT')));
    expect(await ids('timeframe=Intraday')).toEqual(expectIds(active((row) => row.tier === 'INTRADAY')));
    expect(await ids('confidence_min=0.8')).toEqual(expectIds(active((row) => row.confidence >= 0.8)));
    expect(await ids('rs_min=1.1')).toEqual(expectIds(active((row) => row.rs !== null && row.rs >= 1.1)));
    expect(await ids('vol_min=1.5')).toEqual(expectIds(active((row) => row.rvol !== null && row.rvol >= 1.5)));
    expect(await ids('rsi_range=30,60')).toEqual(expectIds(active((row) => row.rsi >= 30 && row.rsi <= 60)));
    const since = T0 - 3 * 3_600_000;
    expect(await ids(`since=${new Date(since).toISOString()}&until=${T0 - 3_600_000}`)).toEqual(
      expectIds(active((row) => row.detectedAt >= since && row.detectedAt < T0 - 3_600_000)),
    );
    // A recomputed pattern (definition version 2) is told apart from history computed by version 1.
    const recomputed = active()[0]!;
    await pool.query('UPDATE patterns SET definition_version = 2 WHERE pattern_id = $1', [recomputed.id]);
    try {
      expect(await ids('definition_version=2')).toEqual([recomputed.id]);
      expect(await ids('definition_version=1')).toEqual(expectIds(active((row) => row.id !== recomputed.id)));
      expect(await ids('definition_version=1,2')).toEqual(expectIds(active()));
    } finally {
      await pool.query('UPDATE patterns SET definition_version = 1 WHERE pattern_id = $1', [recomputed.id]);
    }
    expect(await ids('status=expired&confidence_min=0')).toEqual(expectIds(seeded.filter((row) => row.status === 'expired')));
    expect(await ids('universe=index_etfs')).toEqual(expectIds(active((row) => row.symbol === 'SPY')));
    expect(await ids('universe=index_etfs&symbols=AAPL')).toEqual([]);
  });

  it('filters by direction and by both bounds of relative strength and relative volume, the same on the walked and the gathered path', async () => {
    // The seed is all BULLISH: a third of the patterns turn BEARISH and a third NEUTRAL for this test. Its pages (97 and
    // 17 rows) are no other test's, so no cache entry another test reads holds the turned rows.
    const directionOf = (row: SeededPattern) => (['BULLISH', 'BEARISH', 'NEUTRAL'] as const)[Math.floor(seeded.indexOf(row) / 2) % 3]!;
    const turned = seeded.filter((row) => directionOf(row) !== 'BULLISH');
    const capped = buildApp({ scanCountCap: 2, config: { API_REDIS_PREFIX: `${prefix}direction:` } });
    const expectIds = (rows: SeededPattern[]) => rows.map((row) => row.id).sort();
    const ids = async (query: string, target?: ReturnType<typeof createApp>) => {
      const reply = await call('GET', `/api/patterns/scan?per_page=97&${query}`, target ? { target } : {});
      expect(reply.status, query).toBe(200);
      return (reply.body.data as { id: string; direction: string }[]).map((row) => row.id).sort();
    };
    await pool.query(
      `UPDATE patterns SET direction = CASE WHEN (kafka_offset / 2) % 3 = 1 THEN 'BEARISH' ELSE 'NEUTRAL' END WHERE pattern_id = ANY($1)`,
      [turned.map((row) => row.id)],
    );
    try {
      const cases: [string, SeededPattern[]][] = [
        ['direction=bearish', active((row) => directionOf(row) === 'BEARISH')],
        ['direction=BULLISH&direction=neutral', active((row) => directionOf(row) !== 'BEARISH')],
        ['direction=Neutral&timeframe=intraday&sort_by=volume', active((row) => directionOf(row) === 'NEUTRAL' && row.tier === 'INTRADAY')],
        ['direction=bullish,bearish,neutral', active()],
        ['rs_max=1.0', active((row) => row.rs !== null && row.rs <= 1.0)],
        ['rs_min=0.9&rs_max=1.1&sort_by=rs', active((row) => row.rs !== null && row.rs >= 0.9 && row.rs <= 1.1)],
        ['vol_max=1.25', active((row) => row.rvol !== null && row.rvol <= 1.25)],
        ['vol_min=1&vol_max=1&sort_by=detected_at', active((row) => row.rvol === 1)],
        [
          'direction=bearish&rs_max=1.2&vol_min=0.5',
          active((row) => directionOf(row) === 'BEARISH' && row.rs !== null && row.rs <= 1.2 && row.rvol !== null && row.rvol >= 0.5),
        ],
      ];
      for (const [query, expected] of cases) {
        expect(expected.length, query).toBeGreaterThan(0);
        expect(await ids(query), query).toEqual(expectIds(expected));
        // The count cap of 2 sends the page down the other path (the walk in the count's statement).
        expect(await ids(query, capped), `${query} (walked)`).toEqual(expectIds(expected));
      }
      const bearish = await call('GET', '/api/patterns/scan?direction=bearish&per_page=97');
      expect(new Set(bearish.body.data.map((row: { direction: string }) => row.direction))).toEqual(new Set(['BEARISH']));
      // Every direction named is the unfiltered scan: the same cache entry.
      expect((await call('GET', '/api/patterns/scan?direction=neutral,bearish,bullish&per_page=17')).body.timings.cache).toBe('miss');
      expect((await call('GET', '/api/patterns/scan?per_page=17')).body.timings.cache).toBe('hit');
      // A cursor walks a direction's rows to the end, each once.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await call('GET', `/api/patterns/scan?direction=bearish&per_page=3${cursor ? `&cursor=${cursor}` : ''}`, {
          target: capped,
        });
        seen.push(...page.body.data.map((row: { id: string }) => row.id));
        cursor = page.body.pagination.next_cursor;
      } while (cursor);
      expect(seen.sort()).toEqual(expectIds(active((row) => directionOf(row) === 'BEARISH')));
    } finally {
      await pool.query(`UPDATE patterns SET direction = 'BULLISH' WHERE pattern_id = ANY($1)`, [turned.map((row) => row.id)]);
    }
  });

  it('walks every sort with the keyset cursor: each row once, in order, while page/per_page still work', async () => {
    const sorts: [
      string,
      (row: {
        confidence: number;
        detected_at: string;
        symbol: string;
        relative_strength: number | null;
        volume: number;
      }) => number | string,
    ][] = [
      ['confidence', (row) => row.confidence],
      ['detected_at', (row) => row.detected_at],
      ['symbol', (row) => row.symbol],
      ['rs', (row) => row.relative_strength ?? -Infinity],
      ['volume', (row) => row.volume],
    ];
    for (const [sortBy, valueOf] of sorts) {
      for (const order of ['desc', 'asc']) {
        const seen: { id: string; value: number | string }[] = [];
        let cursor: string | null = null;
        do {
          const url: string = `/api/patterns/scan?sort_by=${sortBy}&sort_order=${order}&per_page=4${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await call('GET', url);
          expect(page.status).toBe(200);
          for (const row of page.body.data) seen.push({ id: row.id, value: valueOf(row) });
          cursor = page.body.pagination.next_cursor;
        } while (cursor);
        expect(new Set(seen.map((row) => row.id)).size).toBe(active().length);
        expect(seen).toHaveLength(active().length);
        for (let i = 1; i < seen.length; i += 1) {
          const [a, b] = [seen[i - 1]!.value, seen[i]!.value];
          if (order === 'desc') expect(a >= b, `${sortBy} ${order} at ${i}`).toBe(true);
          else expect(a <= b, `${sortBy} ${order} at ${i}`).toBe(true);
        }
      }
    }
    const pageTwo = await call('GET', '/api/patterns/scan?page=2&per_page=5');
    const all = await call('GET', '/api/patterns/scan?per_page=100');
    expect(pageTwo.body.data.map((row: { id: string }) => row.id)).toEqual(all.body.data.slice(5, 10).map((row: { id: string }) => row.id));
    expect(pageTwo.body.pagination.pages).toBe(Math.ceil(active().length / 5));
  });

  it('reads one pattern across tiers by detection time, relative strength or volume in index order: exactly the matches, in order', async () => {
    const pattern = PATTERNS[1]!;
    const matches = active().filter((row) => row.pattern === pattern && row.confidence >= 0.6);
    expect(new Set(matches.map((row) => row.tier)).size).toBe(3);
    const sorts: [string, (row: (typeof seeded)[number]) => number][] = [
      ['detected_at', (row) => row.detectedAt],
      ['rs', (row) => row.rs ?? -Infinity],
      ['volume', (row) => row.volume],
    ];
    for (const [sortBy, valueOf] of sorts) {
      for (const order of ['desc', 'asc'] as const) {
        const sign = order === 'desc' ? -1 : 1;
        const expected = [...matches]
          .sort((a, b) => sign * (valueOf(a) - valueOf(b)) || sign * a.id.localeCompare(b.id))
          .map((row) => row.id);
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const url: string = `/api/patterns/scan?pattern_types=${pattern}&confidence_min=0.6&sort_by=${sortBy}&sort_order=${order}&per_page=2${cursor ? `&cursor=${cursor}` : ''}`;
          const page = await call('GET', url);
          expect(page.status).toBe(200);
          expect(page.body.pagination.total).toBe(matches.length);
          seen.push(...page.body.data.map((row: { id: string }) => row.id));
          cursor = page.body.pagination.next_cursor;
        } while (cursor);
        expect(seen, `${sortBy} ${order}`).toEqual(expected);
      }
    }
    // No match: an empty page and a zero total (the in-order walk is skipped).
    const none = await call('GET', `/api/patterns/scan?pattern_types=${pattern}&confidence_min=0.99&sort_by=volume`);
    expect(none.body.data).toEqual([]);
    expect(none.body.pagination.total).toBe(0);
  });

  it("walks the sort index in the count's statement when there are more matches than the cap, else gathers: the same pages", async () => {
    const capped = buildApp({ scanCountCap: 3, config: { API_REDIS_PREFIX: `${prefix}walk:` } });
    for (const url of [
      '/api/patterns/scan?sort_by=volume&per_page=4',
      '/api/patterns/scan?sort_by=rs&timeframe=daily&sort_order=asc&per_page=3&page=2',
      '/api/patterns/scan?sort_by=detected_at&rsi_range=30,60&per_page=5',
    ]) {
      const walked = await call('GET', url, { target: capped });
      const gathered = await call('GET', url);
      expect(walked.body.pagination.total_capped, url).toBe(true);
      expect(gathered.body.pagination.total_capped, url).toBe(false);
      expect(
        walked.body.data.map((row: { id: string }) => row.id),
        url,
      ).toEqual(gathered.body.data.map((row: { id: string }) => row.id));
    }
    // One pattern of one tier walks its (pattern, sort key) index above a few matches (here, above the cap of 1).
    const cappedAtOne = buildApp({ scanCountCap: 1, config: { API_REDIS_PREFIX: `${prefix}walk1:` } });
    for (const [tier, sortBy, order] of [
      ['daily', 'volume', 'desc'],
      ['intraday', 'rs', 'asc'],
      ['combo', 'detected_at', 'desc'],
    ] as const) {
      const url = `/api/patterns/scan?pattern_types=${PATTERNS[1]}&timeframe=${tier}&sort_by=${sortBy}&sort_order=${order}&confidence_min=0&per_page=2`;
      const walked = await call('GET', url, { target: cappedAtOne });
      const gathered = await call('GET', url);
      expect(walked.body.pagination.total_capped, url).toBe(true);
      expect(gathered.body.data.length, url).toBe(2);
      expect(
        walked.body.data.map((row: { id: string }) => row.id),
        url,
      ).toEqual(gathered.body.data.map((row: { id: string }) => row.id));
    }
    const few = await call('GET', '/api/patterns/scan?sort_by=volume&symbols=XOM&timeframe=combo&confidence_min=0.8', { target: capped });
    expect(few.body.pagination.total_capped).toBe(false);
    expect(few.body.data.map((row: { id: string }) => row.id)).toEqual(
      active((row) => row.symbol === 'XOM' && row.tier === 'COMBO' && row.confidence >= 0.8)
        .sort((a, b) => b.volume - a.volume || b.id.localeCompare(a.id))
        .map((row) => row.id),
    );
  });

  it('caches per normalised query, invalidates by scope version, and answers If-None-Match with 304', async () => {
    const url = '/api/patterns/scan?symbols=MSFT,AAPL&timeframe=Daily&confidence_min=0.4';
    const first = await call('GET', url);
    expect(first.body.timings.cache).toBe('miss');
    const again = await call('GET', '/api/patterns/scan?symbols=aapl&symbols=msft&timeframe=daily&confidence_min=0.40');
    expect(again.body.timings.cache).toBe('hit');
    expect(again.body.data).toEqual(first.body.data);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    const notModified = await app.request(url, { headers: asReader({ 'if-none-match': first.headers.get('etag')! }) });
    expect(notModified.status).toBe(304);

    await redis.incr(keys.symbolVersion('XOM'));
    expect((await call('GET', url)).body.timings.cache).toBe('hit');
    await redis.incr(keys.symbolVersion('AAPL'));
    const afterEvent = await call('GET', url);
    expect(afterEvent.body.timings.cache).toBe('miss');
    expect(afterEvent.headers.get('etag')).not.toBe(first.headers.get('etag'));
    expect((await call('GET', url)).body.timings.cache).toBe('hit');

    const broad = '/api/patterns/scan?sort_by=volume';
    await call('GET', broad);
    expect((await call('GET', broad)).body.timings.cache).toBe('hit');
    // A broad scan is served stale (within API_CACHE_MAX_STALE_MS) while one refresh runs behind it.
    await redis.incr(keys.patternsUnscopedVersion());
    expect((await call('GET', broad)).body.timings.cache).toBe('stale');
    await vi.waitFor(async () => expect((await call('GET', broad)).body.timings.cache).toBe('hit'));
    // Past the allowed staleness it is recomputed before answering.
    await redis.incr(keys.patternsUnscopedVersion());
    clock.now += 2_000;
    try {
      expect((await call('GET', broad)).body.timings.cache).toBe('miss');
    } finally {
      clock.now = T0;
    }

    const metrics = await call('GET', '/metrics');
    expect(metrics.text).toMatch(/tickflow_api_cache_hit_ratio\{stage="api"\} 0\.\d+/);
    expect(metrics.text).toMatch(/tickflow_api_cache_served_ratio\{stage="api"\} 0\.\d+/);
    expect(metrics.text).toContain('tickflow_api_cache_requests_total{kind="scan",outcome="hit",stage="api"}');
  });

  it('keeps broad pages exact: only a change to a row on the page, or one that can enter it, invalidates it', async () => {
    const exact = buildApp({ scanCountCap: 3, config: { API_REDIS_PREFIX: `${prefix}exact:`, API_CACHE_MAX_STALE_MS: '0' } });
    const notifier = new Notifier(
      redis,
      keys,
      createLogger('api-test', { level: 'silent' }),
      createNoticeMetrics(createMetricsRegistry('notifier', { collectDefaults: false })),
    );
    const outcome = async (url: string) => (await call('GET', url, { target: exact })).body.timings.cache as string;
    const state = (tier: string, confidence: number, extra: Partial<PatternChange> = {}): PatternChange => ({
      tier,
      confidence,
      relativeStrength: 1,
      volume: 10_000,
      detectedAt: T0,
      ...extra,
    });
    const url = '/api/patterns/scan?timeframe=Daily&per_page=2&confidence_min=0';
    const first = await call('GET', url, { target: exact });
    expect(first.body.timings.cache).toBe('miss');
    expect(first.body.pagination.total_capped).toBe(true);
    expect(await outcome(url)).toBe('hit');
    const [top, second] = first.body.data as { id: string; symbol: string; confidence: number }[];
    const offPage = seeded.find(
      (row) =>
        row.tier === 'DAILY' &&
        row.status === 'active' &&
        row.symbol !== top!.symbol &&
        row.symbol !== second!.symbol &&
        row.confidence < second!.confidence,
    )!;
    expect(offPage).toBeDefined();

    // Another tier, or a confidence below the page's last row, on a symbol not on the page: still exact.
    await notifier.announce('db.patterns', [offPage.symbol], true, [state('INTRADAY', 0.99), state('DAILY', second!.confidence - 0.01)]);
    expect(await outcome(url)).toBe('hit');
    // A row that enters the page: recomputed, and it shows.
    await pool.query('UPDATE patterns SET confidence = 0.995 WHERE pattern_id = $1', [offPage.id]);
    try {
      await notifier.announce('db.patterns', [offPage.symbol], true, [state('DAILY', 0.995)]);
      const entered = await call('GET', url, { target: exact });
      expect(entered.body.timings.cache).toBe('miss');
      expect(entered.body.data[0].id).toBe(offPage.id);
      expect(await outcome(url)).toBe('hit');
    } finally {
      await pool.query('UPDATE patterns SET confidence = $2 WHERE pattern_id = $1', [offPage.id, offPage.confidence]);
    }
    // A change to a symbol on the page (whatever its new state), or an announcement without detail: recomputed.
    await notifier.announce('db.patterns', [offPage.symbol], true, [state('DAILY', 0.1)]);
    expect(await outcome(url)).toBe('miss');
    await notifier.announce('db.patterns', [top!.symbol], true, [state('DAILY', 0.1)]);
    expect(await outcome(url)).toBe('miss');
    await notifier.announce('db.patterns', [], true);
    expect(await outcome(url)).toBe('miss');
    expect(await outcome(url)).toBe('hit');

    // An exact (uncapped) total changes with any row of the tier it counts, wherever that row sorts.
    const uncapped = buildApp({ config: { API_REDIS_PREFIX: `${prefix}exact:`, API_CACHE_MAX_STALE_MS: '0' } });
    const combo = async () => (await call('GET', '/api/patterns/scan?timeframe=Combo', { target: uncapped })).body.timings.cache as string;
    expect(await combo()).toBe('miss');
    expect(await combo()).toBe('hit');
    await notifier.announce('db.patterns', ['ZZZZ'], true, [state('DAILY', 0.1)]);
    expect(await combo()).toBe('hit');
    await notifier.announce('db.patterns', ['ZZZZ'], true, [state('COMBO', 0.1)]);
    expect(await combo()).toBe('miss');

    // Another instance (no remembered dependencies) validates the entry from the keys stored with it.
    const other = buildApp({ scanCountCap: 3, config: { API_REDIS_PREFIX: `${prefix}exact:`, API_CACHE_MAX_STALE_MS: '0' } });
    expect((await call('GET', url, { target: other })).body.timings.cache).toBe('hit');
    // Page 2 depends on the symbols of page 1 as well.
    const pageTwo = '/api/patterns/scan?timeframe=Daily&per_page=2&confidence_min=0&page=2';
    expect(await outcome(pageTwo)).toBe('miss');
    expect(await outcome(pageTwo)).toBe('hit');
    await notifier.announce('db.patterns', [top!.symbol], true, [state('DAILY', 0.1)]);
    expect(await outcome(pageTwo)).toBe('miss');
  });

  it('keeps newest-first pages exact when event time runs ahead of the wall clock', async () => {
    const ahead = buildApp({
      scanCountCap: 3,
      marketClockRefreshMs: 0,
      config: { API_PUBLIC_DATA: 'true', API_REDIS_PREFIX: `${prefix}event-ahead:`, API_CACHE_MAX_STALE_MS: '0' },
    });
    const notifier = new Notifier(
      redis,
      keys,
      createLogger('api-test', { level: 'silent' }),
      createNoticeMetrics(createMetricsRegistry('notifier-ahead', { collectDefaults: false })),
    );
    const url = '/api/patterns/scan?timeframe=Daily&per_page=2&confidence_min=0&sort_by=detected_at';
    const outcome = async () => (await call('GET', url, { target: ahead, anonymous: true })).body.timings.cache as string;
    // The wall clock ten hours behind the data, as with a simulator running faster than real time.
    clock.now = T0 - 10 * 3_600_000;
    try {
      expect(await outcome()).toBe('miss');
      expect(await outcome()).toBe('hit');
      // A detection two hours of event time later, on a symbol not on the page, enters it at the top.
      const change: PatternChange = { tier: 'DAILY', confidence: 0.5, relativeStrength: 1, volume: 10_000, detectedAt: T0 + 2 * 3_600_000 };
      await notifier.announce('db.patterns', ['ZZZZ'], true, [change]);
      expect(await outcome()).toBe('miss');
    } finally {
      clock.now = T0;
    }
  });

  it('refreshes hot entries ahead of their readers when a projection notice makes them stale', async () => {
    let notify: (notice: ProjectionNotice) => void = () => undefined;
    const refreshing = buildApp({ notices: (listener) => (notify = listener), config: { API_REDIS_PREFIX: `${prefix}ahead:` } });
    const url = '/api/patterns/scan?symbols=XOM&per_page=100&confidence_min=0';
    const before = await call('GET', url, { target: refreshing });
    expect(before.body.timings.cache).toBe('miss');
    const target = before.body.data[0];
    await pool.query('UPDATE patterns SET confidence = 0.99 WHERE pattern_id = $1', [target.id]);
    try {
      await redis.incr(keys.symbolVersion('XOM'));
      notify({ projection: 'db.patterns', version: 1, symbols: ['XOM'], patternsChanged: false });
      const done = 'tickflow_api_cache_refreshes_total{kind="scan",outcome="done"';
      await vi.waitFor(async () => expect(await metricValue(refreshing, done)).toBe(1));
      const after = await call('GET', url, { target: refreshing });
      expect(after.body.timings.cache).toBe('hit');
      expect(after.body.data.find((row: { id: string }) => row.id === target.id).confidence).toBe(0.99);
      // A notice about other symbols leaves the entry alone.
      notify({ projection: 'db.patterns', version: 2, symbols: ['AAPL'], patternsChanged: false });
      expect((await call('GET', url, { target: refreshing })).body.timings.cache).toBe('hit');
    } finally {
      await pool.query('UPDATE patterns SET confidence = $2 WHERE pattern_id = $1', [target.id, target.confidence]);
      await redis.incr(keys.symbolVersion('XOM'));
    }
  });

  it('refuses bad input on every parameter with 400 naming the field', async () => {
    const bad: [string, string][] = [
      ['pattern_types=Not-A-Name!', 'pattern_types.0'],
      ['symbols=not a ticker', 'symbols.0'],
      [`symbols=${Array.from({ length: 1001 }, (_, i) => `S${i}`).join(',')}`, 'symbols'],
      [`sectors=${'x'.repeat(101)}`, 'sectors.0'],
      ['universe=no_such_universe', 'universe'],
      ['timeframe=weekly', 'timeframe'],
      ['status=maybe', 'status'],
      ['confidence_min=1.5', 'confidence_min'],
      ['confidence_min=high', 'confidence_min'],
      ['rs_min=abc', 'rs_min'],
      ['definition_version=abc', 'definition_version.0'],
      ['definition_version=2,0', 'definition_version.1'],
      ['vol_min=-1', 'vol_min'],
      ['direction=up', 'direction.0'],
      ['direction=bullish,sideways', 'direction.1'],
      ['direction=', 'direction'],
      ['rs_max=abc', 'rs_max'],
      ['rs_min=2&rs_max=1.5', 'rs_max'],
      ['vol_max=-1', 'vol_max'],
      ['vol_min=2&vol_max=1', 'vol_max'],
      ['rsi_range=70', 'rsi_range'],
      ['rsi_range=80,20', 'rsi_range'],
      ['since=yesterday', 'since'],
      ['until=2026-11-01&since=2026-11-02', 'until'],
      ['sort_by=price', 'sort_by'],
      ['sort_order=sideways', 'sort_order'],
      ['page=0', 'page'],
      ['per_page=101', 'per_page'],
      ['per_page=ten', 'per_page'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
      // Strict formats: what passed the old validation and then failed deeper (500) or was read as something else.
      ['since=0000-01-01', 'since'],
      ['since=999999999999999', 'since'],
      ['until=0000-01-01T00:00Z', 'until'],
      ['since=2026-02-30', 'since'],
      ['since=2026-11-25T24:00:00Z', 'since'],
      ['since=2026-11-25T10:00:00%2B25:00', 'since'],
      ['confidence_min=', 'confidence_min'],
      ['confidence_min=0x1', 'confidence_min'],
      ['confidence_min=%200.5', 'confidence_min'],
      ['rs_min=Infinity', 'rs_min'],
      ['rs_min=1e999', 'rs_min'],
      ['vol_min=', 'vol_min'],
      ['page=0x2', 'page'],
      ['page=', 'page'],
      ['page=%2B2', 'page'],
      ['per_page=1e1', 'per_page'],
      ['per_page=2.0', 'per_page'],
      ['symbols=', 'symbols'],
      ['pattern_types=,', 'pattern_types'],
      ['sectors=%20', 'sectors'],
      ['definition_version=', 'definition_version'],
      ...badCursors(),
    ];
    for (const [query, field] of bad) {
      const reply = await call('GET', `/api/patterns/scan?${query}`);
      expect(reply.status, query).toBe(400);
      expect(
        reply.body.errors.map((error: { field: string }) => error.field),
        query,
      ).toContain(field);
    }
    for (const [url, field] of [
      ['/api/patterns/stats?hours=0x10', 'hours'],
      ['/api/patterns/stats?hours=', 'hours'],
      ['/api/symbols?limit=1e2', 'limit'],
      ['/api/symbols/AAPL/bars?from=0000-01-01T00:00Z', 'from'],
      ['/api/symbols/AAPL/bars?to=999999999999999', 'to'],
      ['/api/symbols/AAPL/bars?from=2026-02-29', 'from'],
      ['/api/symbols/AAPL/bars?limit=0x10', 'limit'],
    ] as const) {
      const reply = await call('GET', url);
      expect(reply.status, url).toBe(400);
      expect(
        reply.body.errors.map((error: { field: string }) => error.field),
        url,
      ).toContain(field);
    }
    // Still accepted: the formats clients send.
    for (const query of [
      'since=1764000000000',
      'since=2026-11-25',
      'since=2024-02-29T10:00:00.123456Z',
      'since=2026-11-25T10:00:00-05:00',
      'confidence_min=.5',
      'confidence_min=5e-1',
      'rs_min=-0.5',
      'per_page=07',
    ]) {
      expect((await call('GET', `/api/patterns/scan?${query}`)).status, query).toBe(200);
    }
    const first = await call('GET', '/api/patterns/scan?per_page=2');
    const mismatched = await call('GET', `/api/patterns/scan?per_page=2&sort_by=symbol&cursor=${first.body.pagination.next_cursor}`);
    expect(mismatched.status).toBe(400);
    expect(mismatched.body.errors[0].field).toBe('cursor');
  });
});

describe('a database that is down or restarting', () => {
  it('answers 503 with Retry-After, not 500, while PostgreSQL refuses connections', async () => {
    // Port 1 on the loopback: nothing listens, so every connection is refused as by a server that is restarting.
    const down = new pg.Pool({ connectionString: 'postgres://tickflow@127.0.0.1:1/tickflow', max: 1 });
    try {
      const target = createApp({
        db: down,
        preparedDb: preparedStatements(down),
        redis: undefined,
        tokens: new TokenService(loadAuthConfig({}), () => clock.now),
        config: apiConfig(),
        logger: createLogger('api-test', { level: 'silent' }),
        registry: createMetricsRegistry('api', { collectDefaults: false }),
        readModelKeys: keys,
        now: () => clock.now,
      });
      for (const url of ['/api/patterns/scan', '/api/patterns/stats']) {
        const reply = await call('GET', url, { target });
        expect(reply.status, url).toBe(503);
        expect(reply.headers.get('retry-after')).toBe('1');
        expect(reply.body.detail).toMatch(/database is unavailable/);
      }
    } finally {
      await down.end();
    }
  });
});

describe('scan paging depth and the no-5xx property', () => {
  it('caps offset paging at API_MAX_OFFSET_ROWS and points deeper readers to the cursor', async () => {
    const deepest = await call('GET', '/api/patterns/scan?page=166&per_page=30');
    expect(deepest.status).toBe(200);
    const tooDeep = await call('GET', '/api/patterns/scan?page=167&per_page=30');
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.errors[0].field).toBe('page');
    expect(tooDeep.body.detail).toContain('next_cursor');
    expect((await call('GET', '/api/patterns/scan?page=10000&per_page=1')).status).toBe(400);
    const capped = buildApp({ config: { API_MAX_OFFSET_ROWS: '10', API_REDIS_PREFIX: `${prefix}offset-cap:` } });
    expect((await call('GET', '/api/patterns/scan?page=5&per_page=2', { target: capped })).status).toBe(200);
    expect((await call('GET', '/api/patterns/scan?page=6&per_page=2', { target: capped })).status).toBe(400);
    // The cursor reads on past the offset cap.
    let cursor: string | null = null;
    let rows = 0;
    do {
      const reply: Reply = await call('GET', `/api/patterns/scan?per_page=2${cursor ? `&cursor=${cursor}` : ''}`, { target: capped });
      expect(reply.status).toBe(200);
      rows += reply.body.data.length;
      cursor = reply.body.pagination.next_cursor;
    } while (cursor);
    expect(rows).toBe(active().length);
    expect(rows).toBeGreaterThan(10);
  });

  it('answers any query string of scan, stats, counts, symbols and bars without a 5xx', async () => {
    // Each parameter gets a value it accepts, an edge case, or noise; few parameters per query, so that one odd value
    // is not masked by another's 400.
    const edge = fc.constantFrom(
      '',
      ' ',
      '0',
      '-1',
      '1e999',
      '1e-400',
      '0x1',
      'NaN',
      'Infinity',
      '-0',
      '.5',
      '0000-01-01',
      '0000-01-01T00:00Z',
      '9999-12-31T23:59:59.999Z',
      '999999999999999',
      '2026-02-30',
      '2026-11-25T24:00Z',
      '1,',
      ',',
      '%',
      '\u00e9',
      'null',
      '[]',
      'a'.repeat(600),
    );
    const iso = fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((date) => date.toISOString());
    const accepted: Record<string, fc.Arbitrary<string>> = {
      pattern_types: fc.constantFrom(...PATTERNS),
      symbols: fc.constantFrom('AAPL', 'MSFT,XOM', 'SPY'),
      universe: fc.constantFrom('market_leaders', 'index_etfs'),
      sectors: fc.constantFrom('Technology', 'energy'),
      timeframe: fc.constantFrom('all', 'Daily', 'intraday', 'combo'),
      status: fc.constantFrom('active', 'expired', 'all'),
      confidence_min: fc.double({ min: 0, max: 1, noNaN: true }).map(String),
      rs_min: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      rs_max: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      vol_min: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map(String),
      vol_max: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map(String),
      direction: fc.constantFrom('bullish', 'BEARISH', 'Neutral', 'bullish,bearish', 'bullish,bearish,neutral'),
      definition_version: fc.integer({ min: 0, max: 10_000_000 }).map(String),
      rsi_range: fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 })).map(([a, b]) => `${a},${b}`),
      since: fc.oneof(iso, fc.integer({ min: 0, max: 2 ** 48 }).map(String)),
      until: fc.oneof(iso, fc.integer({ min: 0, max: 2 ** 48 }).map(String)),
      from: fc.oneof(iso, fc.integer({ min: 0, max: 2 ** 48 }).map(String)),
      to: fc.oneof(iso, fc.integer({ min: 0, max: 2 ** 48 }).map(String)),
      sort_by: fc.constantFrom('confidence', 'detected_at', 'symbol', 'rs', 'volume'),
      sort_order: fc.constantFrom('asc', 'desc'),
      page: fc.integer({ min: 1, max: 10_000 }).map(String),
      per_page: fc.integer({ min: 1, max: 100 }).map(String),
      cursor: fc
        .tuple(fc.oneof(fc.double(), fc.string(), iso, fc.constant(null)), fc.string())
        .map(([value, id]) => Buffer.from(JSON.stringify([value, id, 'x'])).toString('base64url')),
      hours: fc.integer({ min: 1, max: 720 }).map(String),
      search: fc.string({ maxLength: 10 }),
      market: fc.constantFrom('stocks', 'crypto'),
      type: fc.constantFrom('CS', 'ETF'),
      active: fc.constantFrom('true', 'false'),
      limit: fc.integer({ min: 1, max: 50_000 }).map(String),
      interval: fc.constantFrom('1m', '5m', '15m', '1h', '1d'),
      bucket: fc.constantFrom('5m', '15m', '1h', '1d'),
      top: fc.integer({ min: 1, max: 100 }).map(String),
    };
    const parameter = (names: readonly string[]) =>
      fc
        .constantFrom(...names)
        .chain((name) =>
          fc
            .oneof(
              { arbitrary: accepted[name]!, weight: 3 },
              { arbitrary: edge, weight: 2 },
              { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
            )
            .map((text) => [name, text] as [string, string]),
        );
    const routes: [string, readonly string[]][] = [
      [
        '/api/patterns/scan',
        [
          'pattern_types',
          'symbols',
          'universe',
          'sectors',
          'timeframe',
          'status',
          'confidence_min',
          'direction',
          'rs_min',
          'rs_max',
          'definition_version',
          'vol_min',
          'vol_max',
          'rsi_range',
          'since',
          'until',
          'sort_by',
          'sort_order',
          'page',
          'per_page',
          'cursor',
        ],
      ],
      ['/api/patterns/stats', ['hours']],
      ['/api/patterns/counts', ['pattern_types', 'symbols', 'universe', 'timeframe', 'since', 'until', 'hours', 'bucket', 'top']],
      ['/api/symbols', ['search', 'market', 'type', 'active', 'limit']],
      ['/api/symbols/AAPL/bars', ['interval', 'from', 'to', 'limit']],
    ];
    for (const [path, names] of routes) {
      await fc.assert(
        fc.asyncProperty(fc.array(parameter(names), { maxLength: 3 }), async (pairs) => {
          const url = `${path}?${new URLSearchParams(pairs).toString()}`;
          const response = await app.request(url, { headers: asReader() });
          expect(response.status, url).toBeLessThan(500);
          await response.arrayBuffer();
        }),
        { numRuns: 200 },
      );
    }
  });
});

describe('GET /api/patterns/{id}, /stats, /summary', () => {
  it('returns one pattern with its events, or 404', async () => {
    const reply = await call('GET', '/api/patterns/pat-001');
    expect(reply.status).toBe(200);
    expect(reply.body.data).toMatchObject({ id: 'pat-001', symbol: 'MSFT', levels: { support: 95 } });
    expect(reply.body.events).toEqual([expect.objectContaining({ event_id: 'ev-pat-001', kind: 'DETECTED', kafka_offset: 1 })]);
    expect((await call('GET', '/api/patterns/nope')).status).toBe(404);
    expect((await call('GET', `/api/patterns/${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('returns the whole history of a pattern whose UPDATED events re-stamped its detected_at', async () => {
    // DETECTED at T0 - 3h, UPDATED at T0 - 2h (re-stamps detected_at), EXPIRED carrying the updated stamp.
    const id = 'pat-history';
    const stamps: [string, string, number][] = [
      ['DETECTED', new Date(T0 - 3 * 3_600_000).toISOString(), 0.6],
      ['UPDATED', new Date(T0 - 2 * 3_600_000).toISOString(), 0.7],
      ['EXPIRED', new Date(T0 - 2 * 3_600_000).toISOString(), 0.7],
    ];
    for (const [offset, [kind, detected, confidence]] of stamps.entries()) {
      await pool.query(
        `INSERT INTO pattern_events (event_id, kind, pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
           price, volume, kafka_topic, kafka_partition, kafka_offset)
         VALUES ($1, $2, $3, 'doji', 1, 'DAILY', 'BULLISH', 'XOM', $4, $4::timestamptz + interval '1 hour', $5, $5, 100, 1000, 'patterns', 3, $6)`,
        [`ev-history-${offset}`, kind, id, detected, confidence, 10_000 + offset],
      );
    }
    const last = stamps[2]!;
    await pool.query(
      `INSERT INTO patterns (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence, price, volume, status,
         last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
       VALUES ($1, 'doji', 1, 'DAILY', 'BULLISH', 'XOM', $2, $2::timestamptz + interval '1 hour', 0.7, 0.7, 100, 1000, 'expired', 'ev-history-2', 'EXPIRED', 'patterns', 3, 10002)`,
      [id, last[1]],
    );
    try {
      const reply = await call('GET', `/api/patterns/${id}`);
      expect(reply.status).toBe(200);
      expect(reply.body.events.map((event: { kind: string }) => event.kind)).toEqual(['DETECTED', 'UPDATED', 'EXPIRED']);
      expect(reply.body.events[0].detected_at).toBe(stamps[0]![1]);
    } finally {
      await pool.query(`DELETE FROM patterns WHERE pattern_id = $1`, [id]);
      await pool.query(`DELETE FROM pattern_events WHERE pattern_id = $1`, [id]);
    }
  });

  it('measures ages and expiries against the market clock (event time), the clock of status, not the wall clock', async () => {
    const marketNow = (
      await pool.query<{ latest: Date }>(`SELECT max(detected_at) AS latest FROM patterns WHERE status = 'active'`)
    ).rows[0]!.latest.getTime();
    // Public data and anonymous calls: the reader's token would expire with the wall clock moved.
    const market = buildApp({ marketClockRefreshMs: 0, config: { API_PUBLIC_DATA: 'true', API_REDIS_PREFIX: `${prefix}market-clock:` } });
    // The wall clock 31 hours ahead of the data (a simulator's or a replay's event time), then 31 hours behind it.
    for (const skew of [31 * 3_600_000, -31 * 3_600_000]) {
      clock.now = marketNow + skew;
      try {
        const scan = await call('GET', '/api/patterns/scan?per_page=100&status=all&confidence_min=0', { target: market, anonymous: true });
        expect(scan.status).toBe(200);
        const summary = await call('GET', '/api/patterns/summary', { target: market, anonymous: true });
        const detail = await call('GET', '/api/patterns/pat-001', { target: market, anonymous: true });
        const rows = [...scan.body.data, ...summary.body.tiers.flatMap((tier: { top: unknown[] }) => tier.top), detail.body.data];
        expect(rows.length).toBeGreaterThan(40);
        for (const row of rows) {
          const expiresIn = Math.round((Date.parse(row.expires_at) - marketNow) / 1000);
          expect(row.age_seconds, row.id).toBe(Math.max(0, Math.round((marketNow - Date.parse(row.detected_at)) / 1000)));
          expect(row.expires_in_seconds, row.id).toBe(row.status === 'active' ? Math.max(0, expiresIn) : expiresIn);
        }
        // The detection histogram's window ends at the market clock too.
        const stats = await call('GET', '/api/patterns/stats?hours=1', { target: market, anonymous: true });
        expect(stats.body.detections.total).toBeGreaterThan(0);
      } finally {
        clock.now = T0;
      }
    }
  });

  it('counts active patterns and hourly detections', async () => {
    const reply = await call('GET', '/api/patterns/stats?hours=4');
    expect(reply.status).toBe(200);
    const allActive = seeded.filter((row) => row.status === 'active');
    expect(reply.body.active_total).toBe(allActive.length);
    expect(reply.body.by_tier.reduce((sum: number, row: { count: number }) => sum + row.count, 0)).toBe(allActive.length);
    expect(reply.body.by_pattern.map((row: { key: string }) => row.key).sort()).toEqual([...PATTERNS].sort());
    expect(reply.body.detections.total).toBe(seeded.filter((row) => row.detectedAt >= T0 - 3 * 3_600_000).length);
    expect((await call('GET', '/api/patterns/stats?hours=0')).body.errors[0].field).toBe('hours');
    expect((await call('GET', '/api/patterns/stats?hours=4')).body.timings.cache).toBe('hit');
  });

  it('summarises each tier', async () => {
    const reply = await call('GET', '/api/patterns/summary');
    expect(reply.body.tiers.map((tier: { tier: string }) => tier.tier)).toEqual(['DAILY', 'INTRADAY', 'COMBO']);
    const daily = reply.body.tiers[0];
    expect(daily.active).toBe(seeded.filter((row) => row.status === 'active' && row.tier === 'DAILY').length);
    expect(daily.top).toHaveLength(5);
    expect(daily.top[0].confidence).toBe(
      Math.max(...seeded.filter((row) => row.status === 'active' && row.tier === 'DAILY').map((row) => row.confidence)),
    );
  });
});

describe('GET /api/patterns/counts', () => {
  // Detections two days before the seeded ones, away from every other test's window: [symbol, direction, pattern, tier, kind, time].
  const DAY = '2026-11-23';
  const events: [string, string, string, string, string, string][] = [
    ['AAPL', 'BEARISH', 'doji', 'DAILY', 'DETECTED', '10:05'],
    ['AAPL', 'BEARISH', 'doji', 'INTRADAY', 'DETECTED', '10:20'],
    ['AAPL', 'BEARISH', 'hammer', 'DAILY', 'DETECTED', '11:10'],
    ['MSFT', 'BULLISH', 'hammer', 'INTRADAY', 'DETECTED', '11:30'],
    ['MSFT', 'BULLISH', 'doji', 'DAILY', 'DETECTED', '11:45'],
    // An update is not a detection.
    ['MSFT', 'BULLISH', 'doji', 'DAILY', 'UPDATED', '11:50'],
    ['SPY', 'NEUTRAL', 'doji', 'DAILY', 'DETECTED', '12:15'],
  ];
  const counts = async (query: string) => {
    const reply = await call('GET', `/api/patterns/counts?${query}`);
    expect(reply.status, query).toBe(200);
    return reply.body;
  };
  const day = `since=${DAY}&until=2026-11-24`;

  beforeAll(async () => {
    for (const [offset, [symbol, direction, pattern, tier, kind, time]] of events.entries()) {
      await pool.query(
        `INSERT INTO pattern_events (event_id, kind, pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
           price, volume, kafka_topic, kafka_partition, kafka_offset)
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $8::timestamptz + interval '1 day', 0.7, 0.7, 100, 1000, 'patterns', 4, $9)`,
        [
          `ev-count-${offset}`,
          kind,
          `count-${symbol}-${pattern}-${tier}`,
          pattern,
          tier,
          direction,
          symbol,
          `${DAY}T${time}:00Z`,
          20_000 + offset,
        ],
      );
    }
  });

  afterAll(async () => {
    await pool.query(`DELETE FROM pattern_events WHERE event_id LIKE 'ev-count-%'`);
  });

  it('counts the detections of a window by direction, by symbol and per hour', async () => {
    const body = await counts(day);
    expect(body).toMatchObject({
      since: '2026-11-23T00:00:00.000Z',
      until: '2026-11-24T00:00:00.000Z',
      bucket: '1h',
      total: 6,
      by_direction: [
        { key: 'BEARISH', count: 3 },
        { key: 'BULLISH', count: 2 },
        { key: 'NEUTRAL', count: 1 },
      ],
      by_symbol: [
        { key: 'AAPL', count: 3 },
        { key: 'MSFT', count: 2 },
        { key: 'SPY', count: 1 },
      ],
      symbols_total: 3,
      buckets: [
        { bucket: '2026-11-23T10:00:00.000Z', count: 2 },
        { bucket: '2026-11-23T11:00:00.000Z', count: 3 },
        { bucket: '2026-11-23T12:00:00.000Z', count: 1 },
      ],
      query: { symbols: null, universe: null },
    });
    // Each bucket split by direction, pattern type and tier: in time order, then by key; the splits add up to the bucket.
    const at = (hour: number) => `2026-11-23T${hour}:00:00.000Z`;
    expect(body.buckets_by_direction).toEqual([
      { bucket: at(10), key: 'BEARISH', count: 2 },
      { bucket: at(11), key: 'BEARISH', count: 1 },
      { bucket: at(11), key: 'BULLISH', count: 2 },
      { bucket: at(12), key: 'NEUTRAL', count: 1 },
    ]);
    expect(body.buckets_by_pattern).toEqual([
      { bucket: at(10), key: 'doji', count: 2 },
      { bucket: at(11), key: 'doji', count: 1 },
      { bucket: at(11), key: 'hammer', count: 2 },
      { bucket: at(12), key: 'doji', count: 1 },
    ]);
    expect(body.buckets_by_tier).toEqual([
      { bucket: at(10), key: 'DAILY', count: 1 },
      { bucket: at(10), key: 'INTRADAY', count: 1 },
      { bucket: at(11), key: 'DAILY', count: 2 },
      { bucket: at(11), key: 'INTRADAY', count: 1 },
      { bucket: at(12), key: 'DAILY', count: 1 },
    ]);
    expect(body.timings.cache).toBe('miss');
    expect((await counts(day)).timings.cache).toBe('hit');
    // Filters apply to the splits too.
    expect((await counts(`${day}&timeframe=intraday`)).buckets_by_direction).toEqual([
      { bucket: at(10), key: 'BEARISH', count: 1 },
      { bucket: at(11), key: 'BULLISH', count: 1 },
    ]);
    // The top symbols only, with the number of symbols beside them.
    const top = await counts(`${day}&top=2`);
    expect(top.by_symbol).toEqual([
      { key: 'AAPL', count: 3 },
      { key: 'MSFT', count: 2 },
    ]);
    expect(top.symbols_total).toBe(3);
    expect((await counts(`${day}&bucket=1d`)).buckets).toEqual([{ bucket: '2026-11-23T00:00:00.000Z', count: 6 }]);
    expect((await counts(`${day}&bucket=15m`)).buckets.map((row: { bucket: string }) => row.bucket.slice(11, 16))).toEqual([
      '10:00',
      '10:15',
      '11:00',
      '11:30',
      '11:45',
      '12:15',
    ]);
    // `hours` before `until`: [11:00, 12:00).
    expect((await counts('until=2026-11-23T12:00:00Z&hours=1')).total).toBe(3);
  });

  it('filters by pattern type, tier, symbols and universe as the scan does', async () => {
    const doji = await counts(`${day}&pattern_types=DOJI`);
    expect(doji.total).toBe(4);
    expect(doji.by_direction).toEqual([
      { key: 'BEARISH', count: 2 },
      { key: 'BULLISH', count: 1 },
      { key: 'NEUTRAL', count: 1 },
    ]);
    expect((await counts(`${day}&timeframe=Daily`)).total).toBe(4);
    expect((await counts(`${day}&timeframe=intraday&pattern_types=hammer`)).by_symbol).toEqual([{ key: 'MSFT', count: 1 }]);
    const some = await counts(`${day}&symbols=aapl,SPY`);
    expect(some.total).toBe(4);
    expect(some.query).toEqual({ symbols: 2, universe: null });
    const universe = await counts(`${day}&universe=index_etfs`);
    expect(universe.by_symbol).toEqual([{ key: 'SPY', count: 1 }]);
    expect(universe.query.universe).toBe('index_etfs');
    // A universe with none of the named symbols counts nothing.
    const none = await counts(`${day}&universe=index_etfs&symbols=AAPL`);
    expect(none).toMatchObject({ total: 0, by_direction: [], by_symbol: [], symbols_total: 0, buckets: [], query: { symbols: 0 } });
  });

  it('defaults to the 24 hours up to the end of the market clock hour, the window of the stats', async () => {
    const body = await counts('');
    expect(body.until).toBe(new Date(T0 + 3_600_000).toISOString());
    expect(body.since).toBe(new Date(T0 - 23 * 3_600_000).toISOString());
    expect(body.total).toBe(seeded.length);
    expect(body.by_direction).toEqual([{ key: 'BULLISH', count: seeded.length }]);
    expect(body.by_symbol.map((row: { key: string }) => row.key)).toEqual(['AAPL', 'MSFT', 'SPY', 'XOM']);
    const stats = await call('GET', '/api/patterns/stats?hours=24');
    expect(body.buckets).toEqual(stats.body.detections.hourly);
    // Hourly by pattern type and by tier: what pattern_counts_hourly (the continuous aggregate on TimescaleDB) holds.
    for (const column of ['pattern', 'tier'] as const) {
      const hourly = await pool.query<{ bucket: Date; key: string; count: string }>(
        `SELECT bucket, ${column} AS key, sum(count) AS count FROM pattern_counts_hourly WHERE bucket >= $1::timestamptz AND bucket < $2::timestamptz GROUP BY 1, 2 ORDER BY 1, ${column} COLLATE "C"`,
        [body.since, body.until],
      );
      expect(body[`buckets_by_${column}`], column).toEqual(
        hourly.rows.map((row) => ({ bucket: new Date(row.bucket).toISOString(), key: row.key, count: Number(row.count) })),
      );
    }
  });

  it('answers 400 naming the field for a window, bucket or filter it refuses', async () => {
    for (const [query, field] of [
      ['hours=0', 'hours'],
      ['hours=9000', 'hours'],
      [`${day}&hours=2`, 'hours'],
      ['since=2026-11-24&until=2026-11-23', 'until'],
      ['since=2026-02-30', 'since'],
      ['until=tomorrow', 'until'],
      ['bucket=2h', 'bucket'],
      ['since=2025-01-01&until=2026-01-01&bucket=5m', 'bucket'],
      ['top=0', 'top'],
      ['top=101', 'top'],
      ['symbols=', 'symbols'],
      ['symbols=not%20a%20symbol', 'symbols.0'],
      ['pattern_types=,', 'pattern_types'],
      ['timeframe=weekly', 'timeframe'],
      ['universe=no_such_universe', 'universe'],
    ] as const) {
      const reply = await call('GET', `/api/patterns/counts?${query}`);
      expect(reply.status, query).toBe(400);
      expect(
        reply.body.errors.map((error: { field: string }) => error.field),
        query,
      ).toContain(field);
    }
  });
});

describe('symbols', () => {
  it('searches by ticker or name prefix, market, type and active, with a limit', async () => {
    const tickers = async (query: string) =>
      ((await call('GET', `/api/symbols?${query}`)).body.data as { ticker: string }[]).map((row) => row.ticker);
    expect(await tickers('')).toEqual(['AAPL', 'MSFT', 'OLDCO', 'SPY', 'XOM']);
    expect(await tickers('search=ms')).toEqual(['MSFT']);
    expect(await tickers('search=exxon')).toEqual(['XOM']);
    expect(await tickers('search=%25')).toEqual([]);
    expect(await tickers('type=ETF')).toEqual(['SPY']);
    expect(await tickers('active=false')).toEqual(['OLDCO']);
    expect(await tickers('market=crypto')).toEqual([]);
    expect(await tickers('limit=2')).toEqual(['AAPL', 'MSFT']);
    for (const [query, field] of <[string, string][]>[
      ['limit=5001', 'limit'],
      ['limit=0', 'limit'],
      ['active=yes', 'active'],
      [`search=${'a'.repeat(101)}`, 'search'],
    ]) {
      const reply = await call('GET', `/api/symbols?${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0].field).toBe(field);
    }
  });

  it('returns details with fundamentals, last bar and active pattern count', async () => {
    const reply = await call('GET', '/api/symbols/aapl');
    expect(reply.status).toBe(200);
    expect(reply.body.data).toMatchObject({
      ticker: 'AAPL',
      name: 'Apple Inc.',
      cik: '0000320193',
      composite_figi: 'BBG000B9XRY4',
      list_date: '1980-12-12',
    });
    expect(reply.body.fundamentals).toMatchObject({ as_of_date: '2026-09-30', eps: 1.64, source: 'massive' });
    expect(reply.body.last_bar).toMatchObject({ interval: '1m', bucket: '2026-11-25T14:29:00.000Z', close: 219.5 });
    expect(reply.body.active_patterns).toBe(seeded.filter((row) => row.symbol === 'AAPL' && row.status === 'active').length);
    expect((await call('GET', '/api/symbols/AAPL')).body.timings.cache).toBe('hit');
    const spy = await call('GET', '/api/symbols/SPY');
    expect(spy.body).toMatchObject({ fundamentals: null, last_bar: null });
    expect((await call('GET', '/api/symbols/NOPE')).status).toBe(404);
    expect((await call('GET', '/api/symbols/bad%20symbol')).body.errors[0].field).toBe('symbol');
    // The wall clock three days behind the data: the last bar is still the latest one, not an older daily bar.
    const behind = buildApp({ marketClockRefreshMs: 0, config: { API_PUBLIC_DATA: 'true', API_REDIS_PREFIX: `${prefix}symbol-clock:` } });
    clock.now = T0 - 3 * 86_400_000;
    try {
      expect((await call('GET', '/api/symbols/AAPL', { target: behind, anonymous: true })).body.last_bar).toMatchObject({
        interval: '1m',
        bucket: '2026-11-25T14:29:00.000Z',
      });
    } finally {
      clock.now = T0;
    }
  });

  it('serves bars of every interval from the tables and aggregates', async () => {
    const bars = async (query: string) => call('GET', `/api/symbols/AAPL/bars?${query}`);
    const minute = await bars('interval=1m&limit=10');
    expect(minute.body.data).toHaveLength(10);
    expect(minute.body.data[9].bucket).toBe('2026-11-25T14:29:00.000Z');
    expect(minute.body.data[0].bucket < minute.body.data[9].bucket).toBe(true);
    const five = await bars('interval=5m');
    expect(five.body.data).toHaveLength(6);
    expect(five.body.data[0]).toMatchObject({
      bucket: '2026-11-25T14:00:00.000Z',
      open: 190,
      high: 195,
      low: 189,
      close: 194.5,
      volume: 5000,
    });
    expect((await bars('interval=15m')).body.data).toHaveLength(2);
    expect((await bars('interval=1h')).body.data).toHaveLength(1);
    expect((await bars('interval=1d')).body.data).toHaveLength(5);
    const window = await bars(`interval=1m&from=2026-11-25T14:10:00Z&to=${Date.parse('2026-11-25T14:15:00Z')}`);
    expect(window.body.data.map((bar: { bucket: string }) => bar.bucket.slice(11, 16))).toEqual([
      '14:10',
      '14:11',
      '14:12',
      '14:13',
      '14:14',
    ]);
    expect((await call('GET', '/api/symbols/SPY/bars')).body.data).toEqual([]);
    expect((await call('GET', '/api/symbols/NOPE/bars')).status).toBe(404);
    // A symbol known only from its minute bars (no reference data): asking for daily bars says that, not "no symbol".
    await pool.query(
      `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume) VALUES ('ONLYM', '2026-11-25T14:00:00Z', 10, 11, 9, 10.5, 100)`,
    );
    try {
      const daily = await call('GET', '/api/symbols/ONLYM/bars?interval=1d');
      expect(daily.status).toBe(404);
      expect(daily.body.detail).toBe('no 1d bars for ONLYM (it has 1m, 5m, 15m, 1h bars)');
      expect((await call('GET', '/api/symbols/ONLYM/bars?interval=1m')).body.data).toHaveLength(1);
      expect((await call('GET', '/api/symbols/NOPE/bars?interval=1d')).body.detail).toBe('no symbol NOPE');
    } finally {
      await pool.query(`DELETE FROM bars_1m WHERE symbol = 'ONLYM'`);
    }
    for (const [query, field] of <[string, string][]>[
      ['interval=2m', 'interval'],
      ['from=soon', 'from'],
      ['to=later', 'to'],
      ['from=2026-11-26&to=2026-11-25', 'to'],
      ['limit=50001', 'limit'],
    ]) {
      const reply = await bars(query);
      expect(reply.status, query).toBe(400);
      expect(reply.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    }
  });
});

describe('auth', () => {
  it('registers, refuses duplicates case-insensitively, and logs in', async () => {
    const tokens = await registerUser('Alice@Example.com');
    expect((await call('GET', '/api/auth/me', { token: tokens.access_token })).body.email).toBe('Alice@Example.com');
    expect(
      (await call('POST', '/api/auth/register', { body: { email: 'alice@example.com', password: 'another long password' } })).status,
    ).toBe(409);
    const login = await call('POST', '/api/auth/login', { body: { email: 'ALICE@example.com', password: 'correct horse battery staple' } });
    expect(login.status).toBe(200);
    expect(login.body.token_type).toBe('Bearer');
    expect((await call('POST', '/api/auth/login', { body: { email: 'alice@example.com', password: 'wrong password here' } })).status).toBe(
      401,
    );
    expect((await call('POST', '/api/auth/login', { body: { email: 'nobody@example.com', password: 'wrong password here' } })).status).toBe(
      401,
    );
    const stored = await pool.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE lower(email) = 'alice@example.com'");
    expect(stored.rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('rejects bad credentials bodies naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ email: 'not-an-email', password: 'long enough password' }, 'email'],
      [{ email: 'a@example.com', password: 'short' }, 'password'],
      [{ email: 'a@example.com' }, 'password'],
      [{ email: 'a@example.com', password: 'long enough password', admin: true }, '(body)'],
    ];
    for (const [body, field] of cases) {
      const reply = await call('POST', '/api/auth/register', { body });
      expect(reply.status).toBe(400);
      expect(reply.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    expect((await call('POST', '/api/auth/login', { body: '{"email": ' })).status).toBe(400);
    expect(
      (await call('POST', '/api/auth/login', { body: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status,
    ).toBe(415);
    expect((await call('POST', '/api/auth/refresh', { body: {} })).body.errors[0].field).toBe('refresh_token');
  });

  it('expires access tokens', async () => {
    const tokens = await registerUser('expiry@example.com');
    expect((await call('GET', '/api/auth/me', { token: tokens.access_token })).status).toBe(200);
    clock.now += 901_000;
    try {
      const expired = await call('GET', '/api/auth/me', { token: tokens.access_token });
      expect(expired.status).toBe(401);
      expect(expired.body.detail).toContain('expired');
      expect(expired.headers.get('www-authenticate')).toContain('token_expired');
    } finally {
      clock.now = T0;
    }
    expect((await call('GET', '/api/auth/me', { token: `${tokens.access_token.slice(0, -2)}xx` })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
    expect((await call('GET', '/api/auth/me')).status).toBe(401);
  });

  it('rotates refresh tokens, and a reused token revokes the whole family', async () => {
    const tokens = await registerUser('rotate@example.com');
    const second = await call('POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(tokens.refresh_token);
    expect((await call('GET', '/api/auth/me', { token: second.body.access_token })).status).toBe(200);
    const third = await call('POST', '/api/auth/refresh', { body: { refresh_token: second.body.refresh_token } });
    expect(third.status).toBe(200);

    const replay = await call('POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.detail).toContain('already used');
    // The newest token of the family dies with it.
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: third.body.refresh_token } })).status).toBe(401);
    // Another login (another family) is untouched.
    const other = await call('POST', '/api/auth/login', {
      body: { email: 'rotate@example.com', password: 'correct horse battery staple' },
    });
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: other.body.refresh_token } })).status).toBe(200);
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: 'tfr_unknown' } })).status).toBe(401);
    const stored = await pool.query('SELECT 1 FROM refresh_tokens WHERE token_hash = $1', [tokens.refresh_token]);
    expect(stored.rowCount).toBe(0);
  });

  it('expires refresh tokens and revokes them on logout', async () => {
    const tokens = await registerUser('refresh-expiry@example.com');
    clock.now += 31 * 86_400_000;
    try {
      const expired = await call('POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
      expect(expired.status).toBe(401);
      expect(expired.body.detail).toContain('expired');
    } finally {
      clock.now = T0;
    }
    const login = await call('POST', '/api/auth/login', {
      body: { email: 'refresh-expiry@example.com', password: 'correct horse battery staple' },
    });
    expect((await call('POST', '/api/auth/logout', { body: { refresh_token: login.body.refresh_token } })).status).toBe(204);
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: login.body.refresh_token } })).status).toBe(401);
  });

  it('creates, lists, uses and revokes API keys, stored hashed', async () => {
    const alice = await registerUser('keys-a@example.com');
    const bob = await registerUser('keys-b@example.com');
    const created = await call('POST', '/api/auth/api-keys', { token: alice.access_token, body: { name: 'dashboard' } });
    expect(created.status).toBe(201);
    const key: string = created.body.key;
    expect(key).toMatch(/^tfk_[0-9a-f]{12}_/);
    const row = await pool.query<{ secret_hash: string }>('SELECT secret_hash FROM api_keys WHERE id = $1', [created.body.id]);
    expect(row.rows[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.rows[0]!.secret_hash).not.toContain(key.slice(17));
    expect((await call('GET', '/api/auth/me', { headers: { 'x-api-key': key } })).body.id).toBe(alice.user.id);
    expect((await call('GET', '/api/auth/me', { token: key })).body.id).toBe(alice.user.id);
    const listed = await call('GET', '/api/auth/api-keys', { token: alice.access_token });
    expect(listed.body.data).toEqual([expect.objectContaining({ id: created.body.id, name: 'dashboard', revoked_at: null })]);
    expect(listed.text).not.toContain(key);
    expect((await call('DELETE', `/api/auth/api-keys/${created.body.id}`, { token: bob.access_token })).status).toBe(404);
    expect((await call('DELETE', `/api/auth/api-keys/${created.body.id}`, { token: alice.access_token })).status).toBe(204);
    expect((await call('GET', '/api/auth/me', { headers: { 'x-api-key': key } })).status).toBe(401);
    expect((await call('GET', '/api/auth/me', { headers: { 'x-api-key': 'tfk_nonsense' } })).status).toBe(401);
    expect((await call('DELETE', '/api/auth/api-keys/XYZ', { token: alice.access_token })).body.errors[0].field).toBe('id');
    expect((await call('POST', '/api/auth/api-keys', { token: alice.access_token, body: { name: '' } })).body.errors[0].field).toBe('name');
    expect((await call('POST', '/api/auth/api-keys', { body: { name: 'x' } })).status).toBe(401);
  });
});

describe('issue 18: credentials, scopes and limits', () => {
  const auth = loadAuthConfig({});
  /** A token signed with the real secret, with whatever claims the test chooses. */
  const forge = async (claims: { sub?: string; exp?: number }) => {
    let jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(auth.JWT_ISSUER)
      .setAudience(auth.JWT_AUDIENCE)
      .setIssuedAt(Math.floor(clock.now / 1000));
    if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
    if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
    return jwt.sign(new TextEncoder().encode(auth.JWT_SECRET));
  };

  it('requires a credential on market data by default, keeps the operational routes public, and declares it in the OpenAPI document', async () => {
    for (const url of [
      '/api/patterns/scan',
      '/api/patterns/stats',
      '/api/patterns/counts',
      '/api/patterns/summary',
      '/api/patterns/pat-000',
      '/api/symbols',
      '/api/symbols/AAPL',
      '/api/symbols/AAPL/bars?interval=1m',
    ]) {
      const reply = await call('GET', url, { anonymous: true });
      expect(reply.status, url).toBe(401);
      expect(reply.headers.get('www-authenticate'), url).toContain('Bearer');
      expect(reply.body.detail).toContain('credential');
      expect((await call('GET', url)).status, url).toBe(200);
    }
    for (const url of ['/health', '/ready', '/openapi.json', '/docs']) expect((await app.request(url)).status, url).toBe(200);
    const open = buildApp({ config: { API_PUBLIC_DATA: 'true', API_REDIS_PREFIX: `${prefix}public:` } });
    expect((await call('GET', '/api/patterns/scan', { target: open, anonymous: true })).status).toBe(200);
    expect((await call('GET', '/api/symbols/AAPL', { target: open, anonymous: true })).status).toBe(200);
    const document = (await call('GET', '/openapi.json')).body;
    expect(document.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    expect(document.paths['/api/patterns/scan'].get.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    expect(document.paths['/api/symbols/{symbol}/bars'].get.security ?? document.security).not.toContainEqual({});
    expect(document.paths['/health'].get.security).toEqual([]);
    expect(document.paths['/api/auth/login'].post.security).toEqual([]);
    expect(document.info.description).toContain('`manage`');
  });

  it('gives API keys scopes: read and stream by default, manage only when asked for, so a key cannot mint its successor', async () => {
    const owner = await registerUser('scopes@example.com');
    const plain = await call('POST', '/api/auth/api-keys', { token: owner.access_token, body: { name: 'dashboard' } });
    expect(plain.status).toBe(201);
    expect(plain.body.scopes).toEqual(['read', 'stream']);
    const key = { 'x-api-key': plain.body.key as string };
    expect((await call('GET', '/api/patterns/scan?per_page=1', { headers: key })).status).toBe(200);
    expect((await call('GET', '/api/auth/me', { headers: key })).status).toBe(200);
    const minted = await call('POST', '/api/auth/api-keys', { headers: key, body: { name: 'successor' } });
    expect(minted.status).toBe(403);
    expect(minted.body.detail).toContain('manage');
    expect((await call('GET', '/api/auth/api-keys', { headers: key })).status).toBe(403);
    expect((await call('DELETE', `/api/auth/api-keys/${plain.body.id}`, { headers: key })).status).toBe(403);

    const streamOnly = await call('POST', '/api/auth/api-keys', { token: owner.access_token, body: { name: 'ws', scopes: ['stream'] } });
    expect(streamOnly.body.scopes).toEqual(['stream']);
    expect((await call('GET', '/api/patterns/scan', { headers: { 'x-api-key': streamOnly.body.key } })).status).toBe(403);
    expect((await call('GET', '/api/users/universe', { headers: { 'x-api-key': streamOnly.body.key } })).status).toBe(403);

    const manager = await call('POST', '/api/auth/api-keys', { token: owner.access_token, body: { name: 'ci', scopes: ['manage'] } });
    const made = await call('POST', '/api/auth/api-keys', { headers: { 'x-api-key': manager.body.key }, body: { name: 'from ci' } });
    expect(made.status).toBe(201);
    expect((await call('DELETE', `/api/auth/api-keys/${made.body.id}`, { headers: { 'x-api-key': manager.body.key } })).status).toBe(204);
    const listed = await call('GET', '/api/auth/api-keys', { token: owner.access_token });
    expect(listed.body.data.map((entry: { name: string; scopes: string[] }) => [entry.name, entry.scopes])).toEqual([
      ['dashboard', ['read', 'stream']],
      ['ws', ['stream']],
      ['ci', ['manage']],
      ['from ci', ['read', 'stream']],
    ]);
    expect(
      (await call('POST', '/api/auth/api-keys', { token: owner.access_token, body: { name: 'x', scopes: ['admin'] } })).body.errors[0]
        .field,
    ).toMatch(/^scopes/);
  });

  it('answers 401, not 500, for a token of a deleted user, a subject that is not a user id, or a token without exp', async () => {
    const gone = await registerUser('deleted@example.com');
    await pool.query('DELETE FROM users WHERE id = $1', [gone.user.id]);
    const token = gone.access_token;
    for (const [method, url, body] of [
      ['POST', '/api/auth/api-keys', { name: 'x' }],
      ['POST', '/api/users/universe', { key: 'ghost', name: 'Ghost', symbols: ['AAPL'] }],
      ['PUT', '/api/users/universe/ghost', { name: 'Ghost', symbols: ['AAPL'] }],
      ['GET', '/api/auth/me', undefined],
    ] as const) {
      const reply = await call(method, url, { token, body });
      expect(reply.status, `${method} ${url}`).toBe(401);
      expect(reply.body.detail, `${method} ${url}`).toContain('no longer exists');
    }
    const exp = Math.floor(clock.now / 1000) + 600;
    for (const forged of [
      await forge({ sub: 'not-a-uuid', exp }),
      await forge({ sub: "1' OR '1'='1", exp }),
      await forge({ sub: randomUuid() }),
    ]) {
      for (const url of ['/api/auth/me', '/api/users/universe', '/api/patterns/scan?universe=mine']) {
        const reply = await call('GET', url, { token: forged });
        expect(reply.status, url).toBe(401);
        expect(reply.headers.get('content-type')).toContain('application/problem+json');
      }
    }
    expect((await call('GET', '/api/auth/me', { token: await forge({ sub: randomUuid(), exp }) })).status).toBe(401);
  });

  it('caps a universe at 5,000 symbols on PATCH add_symbols, also under concurrent PATCHes', async () => {
    const { access_token: token } = await registerUser('cap@example.com');
    const symbols = (from: number, count: number) => Array.from({ length: count }, (_, i) => `S${from + i}`);
    expect(
      (await call('POST', '/api/users/universe', { token, body: { key: 'full', name: 'Full', symbols: symbols(0, 4999) } })).status,
    ).toBe(201);
    const over = await call('PATCH', '/api/users/universe/full', { token, body: { add_symbols: symbols(10_000, 2) } });
    expect(over.status).toBe(400);
    expect(over.body.errors[0].field).toBe('add_symbols');
    // Duplicates do not count: the list is normalised before the check.
    expect((await call('PATCH', '/api/users/universe/full', { token, body: { add_symbols: ['S0', 'S1', 'S20000'] } })).body.count).toBe(
      5000,
    );

    expect(
      (await call('POST', '/api/users/universe', { token, body: { key: 'race', name: 'Race', symbols: symbols(0, 4990) } })).status,
    ).toBe(201);
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, n) =>
        call('PATCH', '/api/users/universe/race', { token, body: { add_symbols: symbols(20_000 + n * 10, 5) } }),
      ),
    );
    expect(replies.map((reply) => reply.status).sort()).toEqual([200, 200, 400, 400, 400]);
    expect((await call('GET', '/api/users/universe/race', { token })).body.count).toBe(5000);
    const { rows } = await pool.query<{ n: number }>('SELECT max(cardinality(symbols))::int AS n FROM user_universes');
    expect(rows[0]!.n).toBeLessThanOrEqual(5000);
  });

  it('caps universes (200) and active API keys (25) per user, also under concurrent creations', async () => {
    const { access_token: token, user } = await registerUser('many@example.com');
    await pool.query(
      "INSERT INTO user_universes (user_id, key, name, kind) SELECT $1, 'u' || i, 'U', 'watchlist' FROM generate_series(1, 199) AS i",
      [user.id],
    );
    const created = await Promise.all(
      ['a', 'b', 'c'].map((key) => call('POST', '/api/users/universe', { token, body: { key: `new_${key}`, name: 'New', symbols: [] } })),
    );
    expect(created.map((reply) => reply.status).sort()).toEqual([201, 409, 409]);
    expect(created.find((reply) => reply.status === 409)!.body.detail).toContain('the most allowed');
    expect((await call('PUT', '/api/users/universe/u1', { token, body: { name: 'Replaced', symbols: ['AAPL'] } })).status).toBe(200);
    expect((await call('PUT', '/api/users/universe/another', { token, body: { name: 'New', symbols: [] } })).status).toBe(409);

    for (let i = 0; i < 24; i += 1) expect((await call('POST', '/api/auth/api-keys', { token, body: { name: `k${i}` } })).status).toBe(201);
    const keys = await Promise.all([0, 1, 2].map((i) => call('POST', '/api/auth/api-keys', { token, body: { name: `race${i}` } })));
    expect(keys.map((reply) => reply.status).sort()).toEqual([201, 409, 409]);
    const revoked = keys.find((reply) => reply.status === 201)!.body.id as string;
    expect((await call('DELETE', `/api/auth/api-keys/${revoked}`, { token })).status).toBe(204);
    expect((await call('POST', '/api/auth/api-keys', { token, body: { name: 'after revoking' } })).status).toBe(201);
  });

  it('sends Cache-Control: no-store with tokens, and refuses common and trivially weak passwords naming the field', async () => {
    const registered = await call('POST', '/api/auth/register', {
      body: { email: 'nostore@example.com', password: 'correct horse battery staple' },
    });
    expect(registered.headers.get('cache-control')).toBe('no-store');
    const login = await call('POST', '/api/auth/login', {
      body: { email: 'nostore@example.com', password: 'correct horse battery staple' },
    });
    expect(login.headers.get('cache-control')).toBe('no-store');
    const refreshed = await call('POST', '/api/auth/refresh', { body: { refresh_token: login.body.refresh_token } });
    expect(refreshed.headers.get('cache-control')).toBe('no-store');
    for (const password of ['            ', 'aaaaaaaaaaaa', 'password1234', '123456789012', 'nostore2026!!']) {
      const reply = await call('POST', '/api/auth/register', { body: { email: 'nostore2026@example.com', password } });
      expect(reply.status, JSON.stringify(password)).toBe(400);
      expect(reply.body.errors[0].field).toBe('password');
    }
  });

  it('keeps /me and key management out of the login bucket, and limits failed logins per account across IPs', async () => {
    const limited = buildApp({
      config: {
        API_AUTH_RATE_LIMIT_PER_MINUTE: '2',
        API_LOGIN_FAILURES_PER_ACCOUNT: '3',
        API_TRUST_PROXY_HOPS: '1',
        API_REDIS_PREFIX: `${prefix}buckets:`,
      },
    });
    const { access_token: token } = await registerUser('buckets@example.com');
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const login = (password: string, ip: string) =>
      call('POST', '/api/auth/login', { target: limited, headers: from(ip), body: { email: 'buckets@example.com', password } });
    expect((await login('correct horse battery staple', '203.0.113.1')).status).toBe(200);
    expect((await login('correct horse battery staple', '203.0.113.1')).status).toBe(200);
    expect((await login('correct horse battery staple', '203.0.113.1')).status).toBe(429);
    for (let i = 0; i < 3; i += 1) {
      expect((await call('GET', '/api/auth/me', { target: limited, token, headers: from('203.0.113.1') })).status).toBe(200);
      expect((await call('GET', '/api/auth/api-keys', { target: limited, token, headers: from('203.0.113.1') })).status).toBe(200);
    }
    // Password guessing from many IPs: three failures lock the account's logins (even the right password) for a while.
    expect((await login('wrong password one', '198.51.100.1')).status).toBe(401);
    expect((await login('wrong password two', '198.51.100.2')).status).toBe(401);
    expect((await login('wrong password three', '198.51.100.3')).status).toBe(401);
    const locked = await login('correct horse battery staple', '198.51.100.4');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another account is not affected.
    await registerUser('buckets-other@example.com');
    expect(
      (
        await call('POST', '/api/auth/login', {
          target: limited,
          headers: from('198.51.100.5'),
          body: { email: 'buckets-other@example.com', password: 'correct horse battery staple' },
        })
      ).status,
    ).toBe(200);
  });

  it('takes the client IP the configured number of proxy hops from the right of X-Forwarded-For', async () => {
    const behindOne = buildApp({
      config: { API_AUTH_RATE_LIMIT_PER_MINUTE: '1', API_TRUST_PROXY_HOPS: '1', API_REDIS_PREFIX: `${prefix}hops:` },
    });
    const login = (forwarded: string) =>
      call('POST', '/api/auth/login', {
        target: behindOne,
        headers: { 'x-forwarded-for': forwarded },
        body: { email: 'nobody@example.com', password: 'wrong password here' },
      });
    expect((await login('1.1.1.1, 192.0.2.7')).status).toBe(401);
    // The client changes the entry it controls (the leftmost): still the same client to the limiter.
    expect((await login('2.2.2.2, 192.0.2.7')).status).toBe(429);
    expect((await login('192.0.2.8')).status).toBe(401);
  });

  it('returns the same successor to two concurrent refreshes with the same token, and revokes on a replay after the grace', async () => {
    const tokens = await registerUser('two-tabs@example.com');
    const [first, second] = await Promise.all(
      [0, 1].map(() => call('POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } })),
    );
    expect([first!.status, second!.status]).toEqual([200, 200]);
    expect(first!.body.refresh_token).toBe(second!.body.refresh_token);
    const next = await call('POST', '/api/auth/refresh', { body: { refresh_token: first!.body.refresh_token } });
    expect(next.status).toBe(200);
    const again = await registerUser('two-tabs-late@example.com');
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: again.refresh_token } })).status).toBe(200);
    clock.now += 11_000;
    try {
      const late = await call('POST', '/api/auth/refresh', { body: { refresh_token: again.refresh_token } });
      expect(late.status).toBe(401);
      expect(late.body.detail).toContain('already used');
    } finally {
      clock.now = T0;
    }
  });

  it('serves /docs and its reference UI from the API itself, with nothing from another origin', async () => {
    const page = await app.request('/docs');
    const html = await page.text();
    expect(html).toContain('/openapi.json');
    expect(html).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    const script = /<script src="([^"]+)"/.exec(html)?.[1];
    expect(script).toMatch(/^\/docs\//);
    const bundle = await app.request(script!);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
  });
});

describe('universes', () => {
  it('lists built-ins to everyone and own universes to their owner', async () => {
    const anonymous = await call('GET', '/api/users/universe');
    expect(anonymous.body.data.map((universe: { key: string }) => universe.key)).toEqual(['market_leaders', 'sector_etfs', 'index_etfs']);
    expect((await call('GET', '/api/users/universe/sector_etfs')).body).toMatchObject({ category: 'builtin', count: 11 });
    expect((await call('GET', '/api/users/universe/mine', { anonymous: true })).status).toBe(401);
  });

  it('supports create, read, replace, patch and delete, and keeps built-ins read-only', async () => {
    const { access_token: token } = await registerUser('crud@example.com');
    const created = await call('POST', '/api/users/universe', {
      token,
      body: { key: 'tech', name: 'Tech', symbols: ['msft', 'AAPL', 'aapl'], criteria: { sector: 'Technology' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ key: 'tech', category: 'user', kind: 'watchlist', symbols: ['AAPL', 'MSFT'], count: 2 });
    expect((await call('POST', '/api/users/universe', { token, body: { key: 'tech', name: 'Again', symbols: [] } })).status).toBe(409);
    expect((await call('GET', '/api/users/universe/tech', { token })).body.symbols).toEqual(['AAPL', 'MSFT']);
    const listed = await call('GET', '/api/users/universe', { token });
    expect(listed.body.data.map((universe: { key: string }) => universe.key)).toEqual([
      'market_leaders',
      'sector_etfs',
      'index_etfs',
      'tech',
    ]);

    const scan = await call('GET', '/api/patterns/scan?universe=tech&per_page=100', { token });
    expect(scan.body.data.every((row: { symbol: string }) => ['AAPL', 'MSFT'].includes(row.symbol))).toBe(true);
    expect(scan.body.pagination.total).toBe(active((row) => row.symbol === 'AAPL' || row.symbol === 'MSFT').length);

    const patched = await call('PATCH', '/api/users/universe/tech', {
      token,
      body: { add_symbols: ['nvda'], remove_symbols: ['MSFT'], name: 'Tech 2' },
    });
    expect(patched.body).toMatchObject({ name: 'Tech 2', symbols: ['AAPL', 'NVDA'] });
    const replaced = await call('PUT', '/api/users/universe/tech', { token, body: { name: 'Energy', kind: 'universe', symbols: ['XOM'] } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: 'Energy', kind: 'universe', symbols: ['XOM'], description: '' });
    expect((await call('PUT', '/api/users/universe/new-one', { token, body: { name: 'New', symbols: [] } })).status).toBe(201);
    expect((await call('DELETE', '/api/users/universe/tech', { token })).status).toBe(204);
    expect((await call('GET', '/api/users/universe/tech', { token })).status).toBe(404);
    expect((await call('DELETE', '/api/users/universe/tech', { token })).status).toBe(404);
    expect((await call('PATCH', '/api/users/universe/tech', { token, body: { name: 'x' } })).status).toBe(404);

    for (const [method, body] of [
      ['PUT', { name: 'x', symbols: [] }],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      expect((await call(method, '/api/users/universe/market_leaders', { token, body })).status).toBe(403);
    }
    expect((await call('POST', '/api/users/universe', { token, body: { key: 'index_etfs', name: 'x', symbols: [] } })).status).toBe(403);
  });

  it("applies a universe's criteria as a saved filter preset, with query parameters taking precedence", async () => {
    const { access_token: token } = await registerUser('presets@example.com');
    const criteria = { timeframe: 'Daily', confidence_min: 0.6, sort_by: 'detected_at', pattern_types: ['doji', 'hammer'] };
    expect(
      (
        await call('POST', '/api/users/universe', {
          token,
          body: { key: 'daily-tech', name: 'Daily tech', symbols: ['AAPL', 'MSFT'], criteria },
        })
      ).status,
    ).toBe(201);
    const scan = await call('GET', '/api/patterns/scan?preset=daily-tech&per_page=100', { token });
    expect(scan.status).toBe(200);
    const expected = active(
      (row) =>
        ['AAPL', 'MSFT'].includes(row.symbol) && row.tier === 'DAILY' && row.confidence >= 0.6 && ['doji', 'hammer'].includes(row.pattern),
    ).sort((a, b) => b.detectedAt - a.detectedAt);
    expect(scan.body.data.map((row: { id: string }) => row.id)).toEqual(expected.map((row) => row.id));
    const overridden = await call(
      'GET',
      '/api/patterns/scan?preset=daily-tech&per_page=100&timeframe=All&pattern_types=doji,hammer,bullish_engulfing,volume_spike',
      { token },
    );
    expect(overridden.body.pagination.total).toBe(active((row) => ['AAPL', 'MSFT'].includes(row.symbol) && row.confidence >= 0.6).length);
    expect(
      (
        await call('POST', '/api/users/universe', {
          token,
          body: { key: 'broken', name: 'Broken', symbols: [], criteria: { confidence_min: 5 } },
        })
      ).status,
    ).toBe(201);
    const broken = await call('GET', '/api/patterns/scan?preset=broken', { token });
    expect(broken.status).toBe(400);
    expect(broken.body.errors[0].field).toBe('preset.confidence_min');
    const anonymous = await call('GET', '/api/patterns/scan?preset=daily-tech');
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.errors[0].field).toBe('preset');
    // A preset's saved times and numbers are parsed as strictly as the query's.
    for (const [key, criteria, field] of [
      ['ancient', { since: '0000-01-01' }, 'preset.since'],
      ['far-future', { until: 999999999999999 }, 'preset.until'],
      ['no-such-day', { since: '2026-02-30' }, 'preset.since'],
      ['hex', { confidence_min: '0x1' }, 'preset.confidence_min'],
      ['empty', { confidence_min: '' }, 'preset.confidence_min'],
      ['sideways', { direction: ['up'] }, 'preset.direction.0'],
      // Bounds are compared after merging (the query may give either), so the error names the scan's field.
      ['inverted', { vol_min: 2, vol_max: 1 }, 'vol_max'],
    ] as const) {
      expect((await call('POST', '/api/users/universe', { token, body: { key, name: key, symbols: [], criteria } })).status).toBe(201);
      const reply = await call('GET', `/api/patterns/scan?preset=${key}`, { token });
      expect(reply.status, key).toBe(400);
      expect(
        reply.body.errors.map((error: { field: string }) => error.field),
        key,
      ).toContain(field);
    }
    // Numbers saved as JSON numbers, in any notation JavaScript writes them, still work.
    expect(
      (
        await call('POST', '/api/users/universe', {
          token,
          body: { key: 'tiny', name: 'tiny', symbols: [], criteria: { confidence_min: 0.0000001, per_page: 5, pattern_types: [] } },
        })
      ).status,
    ).toBe(201);
    expect((await call('GET', '/api/patterns/scan?preset=tiny', { token })).body.pagination.per_page).toBe(5);
    // The new filters are saved like the others: a direction list and both bounds (the seed is all bullish).
    const saved = { direction: ['bearish', 'neutral'], rs_max: 1, vol_max: 1.5 };
    expect(
      (await call('POST', '/api/users/universe', { token, body: { key: 'bounded', name: 'b', symbols: [], criteria: saved } })).status,
    ).toBe(201);
    expect((await call('GET', '/api/patterns/scan?preset=bounded', { token })).body.pagination.total).toBe(0);
    const bullish = await call('GET', '/api/patterns/scan?preset=bounded&direction=bullish&per_page=100', { token });
    expect(bullish.body.data.map((row: { id: string }) => row.id).sort()).toEqual(
      active((row) => row.rs !== null && row.rs <= 1 && row.rvol !== null && row.rvol <= 1.5)
        .map((row) => row.id)
        .sort(),
    );
  });

  it('refuses bad universe bodies naming the field', async () => {
    const { access_token: token } = await registerUser('bad-universe@example.com');
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/users/universe', { key: 'Bad Key', name: 'x', symbols: [] }, 'key'],
      ['POST', '/api/users/universe', { key: 'ok', name: '', symbols: [] }, 'name'],
      ['POST', '/api/users/universe', { key: 'ok', name: 'x', symbols: ['AAPL', 'no way'] }, 'symbols.1'],
      ['POST', '/api/users/universe', { key: 'ok', name: 'x', symbols: [], kind: 'portfolio' }, 'kind'],
      ['POST', '/api/users/universe', { key: 'ok', name: 'x' }, 'symbols'],
      ['POST', '/api/users/universe', { key: 'ok', name: 'x', symbols: [], criteria: [] }, 'criteria'],
      ['PUT', '/api/users/universe/Bad%20Key', { name: 'x', symbols: [] }, 'key'],
      ['PATCH', '/api/users/universe/ok', { add_symbols: 'AAPL' }, 'add_symbols'],
      ['PATCH', '/api/users/universe/ok', { owner: 'x' }, '(body)'],
    ];
    for (const [method, url, body, field] of cases) {
      const reply = await call(method, url, { token, body });
      expect(reply.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      expect(reply.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    const huge = await call('POST', '/api/users/universe', {
      token,
      body: { key: 'big', name: 'x', symbols: [], description: 'x'.repeat(300_000) },
    });
    expect(huge.status).toBe(413);
    // Criteria nested thousands of levels deep: refused naming the field, not a 500 from PostgreSQL's jsonb.
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    for (const [method, url, text] of [
      ['POST', '/api/users/universe', `{"key":"deep","name":"x","symbols":[],"criteria":${deep(5000)}}`],
      ['PUT', '/api/users/universe/deep', `{"name":"x","symbols":[],"criteria":${deep(5000)}}`],
      ['PATCH', '/api/users/universe/deep', `{"criteria":${deep(5000)}}`],
      [
        'POST',
        '/api/users/universe',
        `{"key":"deep","name":"x","symbols":[],"criteria":{"list":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`,
      ],
    ] as const) {
      const reply = await call(method, url, { token, body: text });
      expect(reply.status, `${method} ${url}`).toBe(400);
      expect(reply.body.errors.map((error: { field: string }) => error.field)).toContain('criteria');
    }
    const nestedOk = await call('POST', '/api/users/universe', {
      token,
      body: { key: 'nested-ok', name: 'x', symbols: [], criteria: JSON.parse(deep(8)) },
    });
    expect(nestedOk.status).toBe(201);
    const tooDeep = await call('POST', '/api/users/universe', {
      token,
      body: `{"key":"nested-no","name":"x","symbols":[],"criteria":${deep(9)}}`,
    });
    expect(tooDeep.status).toBe(400);
    // A body that is nothing but nesting is a 400 too.
    const brackets = await call('POST', '/api/users/universe', { token, body: `${'['.repeat(100_000)}${']'.repeat(100_000)}` });
    expect(brackets.status).toBe(400);
  });

  it("never lets user A read or change user B's universe", async () => {
    const alice = await registerUser('owner-a@example.com');
    const bob = await registerUser('owner-b@example.com');
    expect(
      (await call('POST', '/api/users/universe', { token: bob.access_token, body: { key: 'secret', name: 'B only', symbols: ['XOM'] } }))
        .status,
    ).toBe(201);
    expect((await call('GET', '/api/users/universe/secret', { token: alice.access_token })).status).toBe(404);
    expect((await call('GET', '/api/users/universe', { token: alice.access_token })).text).not.toContain('secret');
    expect((await call('PATCH', '/api/users/universe/secret', { token: alice.access_token, body: { symbols: ['AAPL'] } })).status).toBe(
      404,
    );
    expect((await call('DELETE', '/api/users/universe/secret', { token: alice.access_token })).status).toBe(404);
    const scan = await call('GET', '/api/patterns/scan?universe=secret', { token: alice.access_token });
    expect(scan.status).toBe(400);
    expect(scan.body.errors[0].field).toBe('universe');
    // Alice may create her own universe with the same key; Bob's is unchanged.
    expect(
      (await call('PUT', '/api/users/universe/secret', { token: alice.access_token, body: { name: 'A', symbols: ['AAPL'] } })).status,
    ).toBe(201);
    expect((await call('GET', '/api/users/universe/secret', { token: bob.access_token })).body).toMatchObject({
      name: 'B only',
      symbols: ['XOM'],
    });
    expect((await call('GET', '/api/users/universe/secret', { token: alice.access_token })).body).toMatchObject({
      name: 'A',
      symbols: ['AAPL'],
    });
  });
});

describe('HTTP behaviour', () => {
  it("sends request ids (echoing a caller's), CORS for the dashboard origin and compressed bodies", async () => {
    const echoed = await app.request('/health', { headers: { 'x-request-id': 'trace-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123');
    const preflight = await app.request('/api/patterns/scan', {
      method: 'OPTIONS',
      headers: { origin: 'http://dash.example', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://dash.example');
    const foreign = await app.request('/api/patterns/scan', { headers: asReader({ origin: 'http://evil.example' }) });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const compressed = await app.request('/api/patterns/scan?per_page=50', { headers: asReader({ 'accept-encoding': 'gzip' }) });
    expect(compressed.headers.get('content-encoding')).toBe('gzip');
    expect(compressed.headers.get('vary')).toContain('Accept-Encoding');
    // A simple request from the dashboard's origin, without compression: CORS, Vary and the limiter's headers.
    const dashboard = await app.request('/api/patterns/scan?per_page=50', { headers: asReader({ origin: 'http://dash.example' }) });
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('access-control-allow-origin')).toBe('http://dash.example');
    expect(dashboard.headers.get('access-control-expose-headers')).toContain('X-RateLimit-Remaining');
    expect(dashboard.headers.get('vary')).toBe('Origin, Accept-Encoding');
    expect(dashboard.headers.get('content-encoding')).toBeNull();
    expect(dashboard.headers.get('x-ratelimit-limit')).toBe('100000');
    expect(JSON.parse(await dashboard.text())).toHaveProperty('pagination');
    expect(foreign.headers.get('vary')).toContain('Origin');
  });

  it('sets the limiter headers when the limiter answers after the handler', async () => {
    // Plenty of points left: reads overlap the limiter (see `limit` in app.ts). Whichever ends first, the headers are there.
    for (let i = 0; i < 5; i += 1) {
      const response = await app.request('/api/symbols?limit=1', { headers: asReader() });
      expect(response.status).toBe(200);
      expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
      expect(response.headers.get('x-ratelimit-limit')).toBe('100000');
    }
  });

  it('limits requests through Redis, more strictly on auth endpoints', async () => {
    const limited = buildApp({
      config: { API_AUTH_RATE_LIMIT_PER_MINUTE: '2', API_RATE_LIMIT_PER_MINUTE: '3', API_REDIS_PREFIX: `${prefix}limited:` },
    });
    const login = () =>
      call('POST', '/api/auth/login', { target: limited, body: { email: 'nobody@example.com', password: 'wrong password here' } });
    expect((await login()).status).toBe(401);
    expect((await login()).status).toBe(401);
    const refused = await login();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await call('GET', '/api/symbols?limit=1', { target: limited })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(await redis.keys(`${prefix}limited:rl:*`)).not.toHaveLength(0);
    // Failed credentials on data endpoints count against the strict auth limit too.
    const guessing = buildApp({ config: { API_AUTH_RATE_LIMIT_PER_MINUTE: '2', API_REDIS_PREFIX: `${prefix}guessing:` } });
    const guess = () =>
      call('GET', '/api/patterns/summary', {
        target: guessing,
        headers: { 'x-api-key': 'tfk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      });
    expect([(await guess()).status, (await guess()).status, (await guess()).status]).toEqual([401, 401, 429]);
    // A read whose limiter check overlapped its handler (plenty of points left at its last request) is still
    // refused when another instance used the points meanwhile.
    const shared = { API_RATE_LIMIT_PER_MINUTE: '20', API_REDIS_PREFIX: `${prefix}shared:` };
    const [first, second] = [buildApp({ config: shared }), buildApp({ config: shared })];
    expect((await call('GET', '/api/symbols?limit=1', { target: first })).status).toBe(200);
    for (let i = 0; i < 19; i += 1) await call('GET', '/api/symbols?limit=1', { target: second });
    const overlapped = await call('GET', '/api/symbols?limit=1', { target: first });
    expect(overlapped.status).toBe(429);
    expect(overlapped.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('reports readiness with projection lag, and degraded when the lag is too high', async () => {
    const ready = await call('GET', '/ready', { target: buildApp({ lag: 5 }) });
    expect(ready.body).toMatchObject({
      status: 'ok',
      checks: { postgres: { ok: true }, redis: { ok: true }, projection_lag: { ok: true, details: { records: 5 } } },
    });
    const behind = await call('GET', '/ready', { target: buildApp({ lag: 1_000_000 }) });
    expect(behind.status).toBe(200);
    expect(behind.body.status).toBe('degraded');
    expect((await call('GET', '/health')).body).toEqual({ status: 'ok' });
  });

  it('serves from PostgreSQL when Redis is down, and /ready says degraded', async () => {
    const deadRedis = new Redis({
      port: 1,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    deadRedis.on('error', () => undefined);
    await deadRedis.connect().catch(() => undefined);
    try {
      const degraded = buildApp({ redis: deadRedis, config: { API_REDIS_PREFIX: `${prefix}dead:` } });
      const scan = await call('GET', '/api/patterns/scan?per_page=100', { target: degraded });
      expect(scan.status).toBe(200);
      expect(scan.body.timings.cache).toBe('bypass');
      expect(scan.body.pagination.total).toBe(active().length);
      expect((await call('GET', '/api/symbols/AAPL', { target: degraded })).body.timings.cache).toBe('bypass');
      const ready = await call('GET', '/ready', { target: degraded });
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('degraded');
      expect(ready.body.checks.redis.ok).toBe(false);
      const noRedis = buildApp({ redis: undefined });
      expect((await call('GET', '/ready', { target: noRedis })).body.status).toBe('degraded');
      expect((await call('GET', '/api/patterns/summary', { target: noRedis })).body.timings.cache).toBe('bypass');
    } finally {
      deadRedis.disconnect();
    }
  });

  it('keeps the CORS headers on every answer a cross-origin dashboard can get: 304, problems and 429', async () => {
    const origin = { origin: 'http://dash.example' };
    const corsOf = (response: Response, what: string) => {
      expect(response.headers.get('access-control-allow-origin'), what).toBe('http://dash.example');
      expect(response.headers.get('access-control-expose-headers'), what).toContain('ETag');
    };
    for (const url of [
      '/api/patterns/scan?per_page=3',
      '/api/patterns/pat-001',
      '/api/patterns/stats',
      '/api/symbols/AAPL',
      '/api/users/universe',
    ]) {
      const first = await app.request(url, { headers: asReader(origin) });
      expect(first.status, url).toBe(200);
      corsOf(first, url);
      const revalidated = await app.request(url, { headers: asReader({ ...origin, 'if-none-match': first.headers.get('etag')! }) });
      expect(revalidated.status, url).toBe(304);
      corsOf(revalidated, `${url} (304)`);
      expect(revalidated.headers.get('etag'), url).toBe(first.headers.get('etag'));
      expect(revalidated.headers.get('x-request-id'), url).toBeTruthy();
      const compressed = await app.request(url, {
        headers: asReader({ ...origin, 'accept-encoding': 'gzip', 'if-none-match': first.headers.get('etag')! }),
      });
      expect(compressed.status, url).toBe(304);
      corsOf(compressed, `${url} (304, gzip accepted)`);
    }
    const problems: [string, RequestInit, number][] = [
      ['/api/patterns/scan?page=0', {}, 400],
      ['/api/auth/me', {}, 401],
      ['/api/patterns/nope', {}, 404],
      ['/api/nowhere', {}, 404],
      ['/api/users/universe', { method: 'POST', body: 'x'.repeat(300_000), headers: { 'content-type': 'application/json' } }, 413],
    ];
    for (const [url, init, status] of problems) {
      const headers = { ...origin, ...(init.headers as Record<string, string> | undefined) };
      const response = await app.request(url, { ...init, headers: status === 401 ? headers : asReader(headers) });
      expect(response.status, url).toBe(status);
      corsOf(response, url);
    }
    const limited = buildApp({ config: { API_RATE_LIMIT_PER_MINUTE: '1', API_REDIS_PREFIX: `${prefix}cors-limited:` } });
    expect((await limited.request('/api/symbols?limit=1', { headers: asReader(origin) })).status).toBe(200);
    const refused = await limited.request('/api/symbols?limit=1', { headers: asReader(origin) });
    expect(refused.status).toBe(429);
    corsOf(refused, '429');
  });

  it('answers unknown routes with problem+json 404', async () => {
    const reply = await call('GET', '/api/nowhere');
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ status: 404, title: 'Not found' });
  });
});

describe('startApi', () => {
  /** startApi's options as api/main.ts builds them, with the API's settings from `settings` (and the defaults). */
  const serverOptions = (settings: Record<string, string>) => ({
    config: loadApiConfig({ ...settings, API_PORT: '0' }),
    redisUrl: platform.REDIS_URL,
    brokers: platform.KAFKA_BROKERS,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    tokens: new TokenService(loadAuthConfig({})),
  });

  it('listens on a real port and stops cleanly', async () => {
    const handle = await startApi({
      ...serverOptions({ API_REDIS_PREFIX: `${prefix}server:api:`, API_PROJECTION_LAG_FROM_KAFKA: 'true' }),
      databaseUrl: database.url,
      redisKeyPrefix: `${prefix}server:`,
      port: 0,
      logger: createLogger('api-test', { level: 'silent' }),
    });
    try {
      const response = await fetch(`${handle.url}/api/patterns/scan?per_page=5`, { headers: asLiveReader({ 'accept-encoding': 'gzip' }) });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { data: unknown[] }).data).toHaveLength(5);
      await expect
        .poll(
          async () =>
            ((await (await fetch(`${handle.url}/ready`)).json()) as { checks: Record<string, { ok: boolean }> }).checks.projection_lag?.ok,
        )
        .toBe(true);
      expect(await (await fetch(`${handle.url}/metrics`)).text()).toContain('tickflow_api_requests_total');
      // Projection notices arrive over Redis pub/sub and refresh hot entries ahead of their readers.
      await fetch(`${handle.url}/api/symbols/AAPL`, { headers: asLiveReader() });
      const serverKeys = redisKeys(`${prefix}server:`);
      await redis.incr(serverKeys.symbolVersion('AAPL'));
      await redis.publish(serverKeys.channel(), 'not a notice');
      await vi.waitFor(
        async () => {
          await redis.publish(
            serverKeys.channel(),
            JSON.stringify({ projection: 'db.bars', version: 1, symbols: ['AAPL'], patternsChanged: false }),
          );
          expect(await (await fetch(`${handle.url}/metrics`)).text()).toMatch(
            /tickflow_api_cache_refreshes_total\{kind="symbol",outcome="(done|skipped)"/,
          );
          // The subscription to the notice channel is made in the background after start; on a loaded machine it can
          // take more than vitest's default second, and the loop republishes until it is there.
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(
        ((await (await fetch(`${handle.url}/api/symbols/AAPL`, { headers: asLiveReader() })).json()) as { timings: { cache: string } })
          .timings.cache,
      ).toBe('hit');
    } finally {
      await handle.stop();
    }
    await expect(fetch(`${handle.url}/health`)).rejects.toThrow();
  });

  it('lets a request whose client has gone finish, cache write included, before a stop closes Redis', async () => {
    const apiPrefix = `${prefix}stop:api:`;
    const warnings: string[] = [];
    const named = new URL(database.url);
    named.searchParams.set('application_name', 'tickflow-stop-test');
    const stopTestUrl = named.toString();
    const handle = await startApi({
      // Generous timeouts: the scan waits behind the lock for as long as the test takes, and a slow Redis read
      // would make the request skip the cache (the fallback this test is not about).
      ...serverOptions({
        API_REDIS_PREFIX: apiPrefix,
        API_PROJECTION_LAG_FROM_KAFKA: 'false',
        API_REDIS_COMMAND_TIMEOUT_MS: '30000',
        API_STATEMENT_TIMEOUT_MS: '120000',
      }),
      // Named, so the test waits for this API's own query behind the lock, not for another app's background query.
      databaseUrl: stopTestUrl,
      redisKeyPrefix: `${prefix}stop:`,
      port: 0,
      logger: createLogger('api-test', {
        level: 'warn',
        destination: new Writable({
          write: (line: Buffer, _encoding, done) => {
            warnings.push(line.toString());
            done();
          },
        }),
      }),
    });
    // Until its Redis connection is ready the API serves from PostgreSQL without caching (by design): on a slow
    // machine a request sent at once then wrote no entry (CI failed this test that way).
    await vi.waitFor(
      async () =>
        expect(((await (await fetch(`${handle.url}/ready`)).json()) as { checks: { redis: { ok: boolean } } }).checks.redis.ok).toBe(true),
      { timeout: 10_000 },
    );
    // The scan's query waits behind this lock until the server is closing.
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE patterns IN ACCESS EXCLUSIVE MODE');
      const client = new AbortController();
      const request = fetch(`${handle.url}/api/patterns/scan?per_page=3&confidence_min=0.41`, {
        headers: asLiveReader(),
        signal: client.signal,
      }).catch(() => undefined);
      await vi.waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'tickflow-stop-test'",
        );
        expect(rows[0]!.n).toBe(1);
      });
      client.abort();
      await request;
      const stopping = handle.stop();
      await vi.waitFor(() => expect(fetch(`${handle.url}/health`)).rejects.toThrow());
      expect(await redis.keys(`${apiPrefix}*scan*`)).toEqual([]);
      await locker.query('COMMIT');
      await stopping;
    } finally {
      locker.release();
    }
    expect(warnings).toEqual([]);
    expect(await redis.keys(`${apiPrefix}*scan*`)).toHaveLength(1);
  });
});
