import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, get as httpGet } from 'node:http';
import { createRequire } from 'node:module';
import { randomBytes, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLogger, createMetricsRegistry, loadAuthConfig, loadPlatformConfig, TokenService } from '../../platform/index.js';
import { createProjectorMetrics } from '../../projections/metrics.js';
import { Notifier } from '../../store/notifier.js';
import { migrate } from '../../store/migrate.js';
import { redisKeys } from '../../contracts/redis-keys.js';
import { BUILTIN_UNIVERSES } from '../../contracts/universes.js';
import { percentile, type BenchOptions, type BenchSuite, type Figure } from '../harness.js';
import { processesCpuSeconds } from '../proc-cpu.js';
import { benchDatabases, benchDatabaseUrl, pathFigures, timescaleMode } from '../databases.js';
import type { TestServer } from '../../test/postgres.js';

/**
 * The REST API against a large patterns table: scans served from the Redis cache and from PostgreSQL,
 * symbol reads, and the cache hit ratio under a dashboard-like mix while pattern events keep arriving
 * (rows updated in PostgreSQL and version counters bumped in Redis, as the projector's notifier does).
 * The table is seeded once into database `tickflow_bench_api` and reused while its row count matches.
 */

/** The part of autocannon this suite uses (the package ships no types). */
interface AutocannonRequest {
  path?: string;
}
interface AutocannonInstance extends PromiseLike<{ requests: { total: number }; duration: number; errors: number; non2xx: number }> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, responseTime: number) => void): void;
}
type Autocannon = (options: {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  duration: number;
  requests: { setupRequest: (request: AutocannonRequest) => AutocannonRequest }[];
}) => AutocannonInstance;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/**
 * Market data needs a credential (issue 18): every request carries one access token, verified (HMAC) at its first
 * request and remembered after it (platform/auth.ts), so the figures stay comparable with runs before issue 18. An
 * API key would be read from PostgreSQL once per API_KEY_CACHE_SECONDS.
 */
let credential: Record<string, string> = {};
/** The bench's token outlives the longest run (the API checks `exp`, not the TTL it issues with). */
const BENCH_TOKEN_TTL_SECONDS = 24 * 3600;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SYMBOL_COUNT = 5000;
const PATTERN_NAMES = [
  'doji',
  'hammer',
  'hanging_man',
  'bullish_engulfing',
  'bearish_engulfing',
  'volume_spike',
  'intraday_gap',
  'momentum_spike',
  'breakout_25',
  'ma_crossover',
];
const SECTORS = [
  'Technology',
  'Financials',
  'Health Care',
  'Energy',
  'Industrials',
  'Consumer Discretionary',
  'Consumer Staples',
  'Utilities',
  'Materials',
  'Real Estate',
  'Communication Services',
];
const leaders = BUILTIN_UNIVERSES.find((universe) => universe.key === 'market_leaders')!.symbols;
const tickers = Array.from({ length: SYMBOL_COUNT }, (_, i) => leaders[i] ?? `S${String(i).padStart(4, '0')}`);

async function ensureDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = 'tickflow_bench_api'");
    if (!rowCount) await client.query('CREATE DATABASE tickflow_bench_api');
  } finally {
    await client.end();
  }
}

/** Seeds `rows` patterns (about 5% active, recent) over 5000 symbols, plus symbols, fundamentals and bars. */
async function seed(url: string, server: TestServer, rows: number, log: (line: string) => void): Promise<void> {
  await ensureDatabase(url);
  await migrate(url, { timescale: timescaleMode(server) });
  const db = new pg.Pool({ connectionString: url, max: 2 });
  try {
    const existing = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM patterns')).rows[0]!.n);
    if (existing === rows) {
      log(`reusing ${rows.toLocaleString('en-US')} seeded pattern rows`);
      return;
    }
    log(`seeding ${rows.toLocaleString('en-US')} pattern rows (was ${existing.toLocaleString('en-US')})`);
    await db.query('TRUNCATE patterns, symbols, fundamentals, bars_1m, bars_1d');
    await db.query(
      `INSERT INTO symbols (ticker, name, market, locale, type, active, primary_exchange, currency_name, market_cap, sector, updated_at)
       SELECT t, 'Company ' || t, 'stocks', 'us', 'CS', true, 'XNYS', 'usd', 1e9 * (1 + i), ($2::text[])[1 + i % 11], now()
         FROM unnest($1::text[]) WITH ORDINALITY AS s(t, i)`,
      [tickers, SECTORS],
    );
    await db.query(
      `INSERT INTO fundamentals (symbol, as_of_date, fiscal_period, fiscal_year, eps, eps_estimate, eps_surprise_pct, revenue, source, updated_at)
       SELECT ticker, '2026-09-30', 'Q3', 2026, 1.5, 1.4, 7.1, 1e10, 'bench', now() FROM symbols`,
    );
    await db.query(
      `INSERT INTO bars_1m (symbol, bucket, open, high, low, close, volume, vwap, transactions)
       SELECT ticker, date_trunc('minute', now()) - m * interval '1 minute', 100, 101, 99, 100.5, 1000, 100.2, 10
         FROM symbols, generate_series(0, 29) AS m`,
    );
    await db.query(
      `INSERT INTO bars_1d (symbol, bucket, open, high, low, close, volume, vwap, transactions)
       SELECT ticker, date_trunc('day', now()) - d * interval '1 day', 100, 105, 95, 102, 1e6, 101, 1000
         FROM symbols, generate_series(1, 30) AS d`,
    );
    // Every 20th row is active; pattern, tier and symbol are spread independently of that, as in real data.
    const chunk = 500_000;
    for (let start = 0; start < rows; start += chunk) {
      const end = Math.min(rows, start + chunk);
      await db.query(
        `INSERT INTO patterns (pattern_id, pattern, definition_version, tier, direction, symbol, detected_at, expires_at, confidence, base_confidence,
           fundamental_adjustment, fundamental_reasons, price, change, change_pct, volume, relative_strength, relative_volume, rsi, levels, status,
           last_event_id, last_kind, kafka_topic, kafka_partition, kafka_offset)
         SELECT 'p' || lpad(g::text, 9, '0'), ($3::text[])[1 + (g / 20) % 10], 1, (ARRAY['INTRADAY', 'DAILY', 'COMBO'])[1 + (g / 7) % 3],
                (ARRAY['BULLISH', 'BEARISH', 'NEUTRAL'])[1 + (g / 30) % 3], ($4::text[])[1 + ((g / 20) * 7919) % ${SYMBOL_COUNT}],
                detected, detected + interval '2 days', conf, conf, 0, '{}', 100 + (g % 400), 0.5, 0.4, 1000 * (1 + g % 997),
                CASE WHEN g % 11 = 0 THEN NULL ELSE 0.6 + (g % 100) / 100.0 END, 0.5 + (g % 40) / 10.0, 10 + (g % 80), '{}',
                CASE WHEN active THEN 'active' ELSE 'expired' END, 'e' || g, 'DETECTED', 'bench.patterns', g % 12, g
           FROM (SELECT g, (g % 20 = 0) AS active, ((g * 2654435761) % 1000) / 1000.0 AS conf,
                        now() - CASE WHEN g % 20 = 0 THEN ((g * 40503) % 604800) ELSE ((g * 40503) % 63072000) END * interval '1 second' AS detected
                   FROM generate_series($1::bigint, $2::bigint) AS g) AS generated`,
        [start, end - 1, PATTERN_NAMES, tickers],
      );
      log(`  ${end.toLocaleString('en-US')} rows`);
    }
    // VACUUM sets the visibility map, so capped counts run as index-only scans (as autovacuum would in production).
    await db.query('VACUUM ANALYZE');
    // Written out now, not by the spread checkpoint that would follow: it takes minutes for 10M rows, and a
    // later suite of the same `bench all` (the gateway's, at 19:44 on 2026-11-26) would run beside its writes.
    await db.query('CHECKPOINT');
  } finally {
    await db.end();
  }
}

/** CPU time (ms) the processes have used so far; 0 for a process gone or unreadable. */
function cpuMs(pids: readonly number[]): number {
  return processesCpuSeconds(pids) * 1000;
}

/** Where each request's CPU went: the API process, its PostgreSQL backends and the Redis server. */
interface CpuProbe {
  start(): Promise<void>;
  /** Figures of CPU ms per request since start(). */
  figures(name: string, requests: number): Figure[];
}

function cpuProbe(apiPid: number, db: pg.Pool, redis: Redis): CpuProbe {
  let pids = { api: [apiPid], postgres: [] as number[], redis: [] as number[], load: [process.pid] };
  let before = { api: 0, postgres: 0, redis: 0, load: 0 };
  return {
    async start() {
      const { rows } = await db.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> 'api-bench'",
      );
      const info = await redis.info('server');
      pids = {
        api: [apiPid],
        postgres: rows.map((row) => row.pid),
        redis: [Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0)],
        load: [process.pid],
      };
      before = { api: cpuMs(pids.api), postgres: cpuMs(pids.postgres), redis: cpuMs(pids.redis), load: cpuMs(pids.load) };
    },
    figures(name, requests) {
      const per = (part: 'api' | 'postgres' | 'redis' | 'load') => Math.max(0, cpuMs(pids[part]) - before[part]) / Math.max(1, requests);
      return [
        {
          name: `${name} CPU per request (diagnostic)`,
          value: per('api') + per('postgres') + per('redis'),
          unit: 'ms',
          note: `API process ${per('api').toFixed(2)} + PostgreSQL ${per('postgres').toFixed(2)} (${pids.postgres.length} backends) + Redis ${per('redis').toFixed(2)} ms; load generator ${per('load').toFixed(2)} ms`,
        },
      ];
    },
  };
}

interface LoadResult {
  latencies: number[];
  requests: number;
  seconds: number;
  errors: number;
  non2xx: number;
}

/** Runs autocannon with a path chosen per request; collects every response time. */
async function load(baseUrl: string, seconds: number, connections: number, nextPath: () => string): Promise<LoadResult> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: baseUrl,
    headers: credential,
    connections,
    duration: seconds,
    requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  const result = await instance;
  return { latencies, requests: result.requests.total, seconds: result.duration, errors: result.errors, non2xx: result.non2xx };
}

/**
 * Open-loop load: one request every 1/rate s whatever the answers (autocannon's rate limit sends each second's
 * quota back to back). Latency runs from the request's scheduled time, so a late start counts against it.
 */
async function paced(baseUrl: string, seconds: number, rate: number, nextPath: () => string): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const total = Math.round(seconds * rate);
  for (let index = 0; index < total; index += 1) {
    const due = started + (index * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      new Promise<void>((resolve) => {
        const request = httpGet(`${baseUrl}${nextPath()}`, { agent, headers: credential }, (response) => {
          response.resume();
          response.on('end', () => {
            latencies.push(performance.now() - due);
            if ((response.statusCode ?? 0) >= 300) non2xx += 1;
            resolve();
          });
        });
        request.on('error', () => {
          errors += 1;
          resolve();
        });
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return { latencies, requests: total, seconds: (performance.now() - started) / 1000, errors, non2xx };
}

function figures(name: string, result: LoadResult, note: string): Figure[] {
  return [
    { name: `${name} p50`, value: percentile(result.latencies, 50), unit: 'ms', note },
    { name: `${name} p95`, value: percentile(result.latencies, 95), unit: 'ms' },
    { name: `${name} p99`, value: percentile(result.latencies, 99), unit: 'ms' },
    {
      name: `${name} throughput`,
      value: result.requests / result.seconds,
      unit: 'req/s',
      note: result.errors + result.non2xx > 0 ? `${result.errors} errors, ${result.non2xx} non-2xx` : '',
    },
  ];
}

async function cacheCounts(baseUrl: string): Promise<{ hits: number; stale: number; misses: number; bypass: number }> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const sum = (outcome: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith('tickflow_api_cache_requests_total') && line.includes(`outcome="${outcome}"`))
      .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
  return { hits: sum('hit'), stale: sum('stale'), misses: sum('miss'), bypass: sum('bypass') };
}

/** Zipf-like choice: item i is picked with weight 1/(i+1), as dashboards favour a few views. */
function zipf<T>(items: readonly T[]): () => T {
  const weights = items.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  return () => {
    let r = Math.random() * total;
    for (let i = 0; i < items.length; i += 1) {
      r -= weights[i]!;
      if (r <= 0) return items[i]!;
    }
    return items[items.length - 1]!;
  };
}

const DASHBOARD_SCANS = [
  '/api/patterns/scan',
  '/api/patterns/scan?timeframe=Daily',
  '/api/patterns/scan?timeframe=Intraday',
  '/api/patterns/scan?sort_by=detected_at',
  '/api/patterns/scan?universe=market_leaders',
  '/api/patterns/scan?timeframe=Combo',
  '/api/patterns/scan?page=2',
  '/api/patterns/scan?confidence_min=0.7',
  '/api/patterns/scan?pattern_types=bullish_engulfing,hammer',
  '/api/patterns/scan?sectors=Technology',
  '/api/patterns/scan?sort_by=rs&rs_min=1.15',
  '/api/patterns/scan?vol_min=1.5&sort_by=volume',
  '/api/patterns/scan?rsi_range=0,30',
  '/api/patterns/scan?universe=sector_etfs',
  '/api/patterns/scan?timeframe=Daily&page=2',
  '/api/patterns/scan?pattern_types=volume_spike&timeframe=Intraday',
  '/api/patterns/scan?per_page=100',
  '/api/patterns/scan?sort_by=symbol&sort_order=asc',
  '/api/patterns/stats',
  '/api/patterns/summary',
];

/** One run of the API bench against one storage path's server. */
async function runOn(database: TestServer, { scale, settings }: BenchOptions): Promise<Figure[]> {
  const rows = Number(settings.rows ?? Math.round(10_000_000 * scale));
  const seconds = Number(settings.seconds ?? Math.max(3, Math.round(10 * scale)));
  const connections = Number(settings.connections ?? 10);
  const eventIntervalMs = Number(settings.eventIntervalMs ?? 500);
  const refreshAhead = Number(settings.refreshAhead ?? 200);
  const maxStaleMs = Number(settings.maxStaleMs ?? 1000);
  // `phases=uncached` (comma-separated: cached, cached-rate, uncached, uncached-rate, symbols, mix) runs only those phases, for quick comparisons.
  const phases = new Set(
    String(settings.phases ?? 'cached,cached-rate,uncached,uncached-rate,symbols,mix')
      .split(',')
      .map((phase) => phase.trim()),
  );
  const url = benchDatabaseUrl(database, 'tickflow_bench_api');
  await seed(url, database, rows, (line) => console.log(`[api bench ${database}] ${line}`));

  const platform = loadPlatformConfig();
  const prefix = `bench:api:${randomBytes(4).toString('hex')}:`;
  const port = Number(settings.port ?? 3950);
  // `cpuProfile=<dir>`: the API process writes a V8 CPU profile of the whole run there when it stops.
  const profile = settings.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', String(settings.cpuProfile)] : [];
  const server: ChildProcess = spawn(process.execPath, [...profile, join(root, 'bin', 'tickflow.js'), 'api', '--port', String(port)], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      API_REDIS_PREFIX: `${prefix}api:`,
      REDIS_KEY_PREFIX: prefix,
      API_RATE_LIMIT_PER_MINUTE: '100000000',
      API_PROJECTION_LAG_FROM_KAFKA: 'false',
      API_CACHE_REFRESH_AHEAD: String(refreshAhead),
      API_CACHE_MAX_STALE_MS: String(maxStaleMs),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  // Data reads do not look the user up, so a token for a user id of the bench's own is enough.
  const { token } = await new TokenService(
    loadAuthConfig({ ...process.env, ACCESS_TOKEN_TTL_SECONDS: String(BENCH_TOKEN_TTL_SECONDS) }),
  ).issueAccessToken({ userId: randomUUID() });
  credential = { authorization: `Bearer ${token}` };
  const redis = new Redis(platform.REDIS_URL);
  const keys = redisKeys(prefix);
  const notifier = new Notifier(
    redis,
    keys,
    createLogger('api-bench', { level: 'warn' }),
    createProjectorMetrics(createMetricsRegistry('api-bench', { collectDefaults: false })),
  );
  const db = new pg.Pool({ connectionString: url, max: 2, application_name: 'api-bench' });
  try {
    for (let attempt = 0; ; attempt += 1) {
      const up = await fetch(`${baseUrl}/health`)
        .then((response) => response.ok)
        .catch(() => false);
      if (up) break;
      if (attempt > 300 || server.exitCode !== null) throw new Error('the API did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const results: Figure[] = [
      { name: 'pattern rows', value: rows, unit: 'rows', note: `${(rows / 20).toLocaleString('en-US')} active, ${SYMBOL_COUNT} symbols` },
    ];

    // 1. One dashboard scan, repeated: after the first request every answer comes from Redis.
    const hot = '/api/patterns/scan?timeframe=Daily&confidence_min=0.6';
    if (phases.has('cached')) {
      await fetch(`${baseUrl}${hot}`, { headers: credential });
      const cpu = cpuProbe(server.pid!, db, redis);
      await cpu.start();
      const result = await load(baseUrl, seconds, connections, () => hot);
      results.push(
        ...figures('scan cached', result, `${connections} connections, ${seconds}s`),
        ...cpu.figures('scan cached', result.requests),
      );
    }
    if (phases.has('cached-rate')) {
      const rate = Number(settings.cachedRate ?? 500);
      results.push(
        ...figures(
          `scan cached at ${rate} req/s (diagnostic)`,
          await paced(baseUrl, seconds, rate, () => hot),
          `one every ${(1000 / rate).toFixed(0)} ms (open loop)`,
        ),
      );
    }

    // 2. Every request a distinct query (random bounds and filters), so every answer comes from PostgreSQL.
    const timeframes = ['All', 'Daily', 'Intraday', 'Combo'];
    const sorts = ['confidence', 'detected_at', 'rs', 'volume'];
    const uncached = () => {
      const confidence = (0.5 + Math.random() * 0.4).toFixed(6);
      const sort = sorts[Math.floor(Math.random() * sorts.length)]!;
      const timeframe = timeframes[Math.floor(Math.random() * timeframes.length)]!;
      const extra = Math.random() < 0.3 ? `&pattern_types=${PATTERN_NAMES[Math.floor(Math.random() * 10)]}` : '';
      return `/api/patterns/scan?confidence_min=${confidence}&sort_by=${sort}&timeframe=${timeframe}${extra}`;
    };
    if (phases.has('uncached')) {
      // The API's pool opens connections as load needs them: warm it, so the probe sees every backend.
      await load(baseUrl, 1, connections, uncached);
      const cpu = cpuProbe(server.pid!, db, redis);
      await cpu.start();
      const result = await load(baseUrl, seconds, connections, uncached);
      results.push(
        ...figures('scan uncached', result, `distinct random filters per request, ${connections} connections`),
        ...cpu.figures('scan uncached', result.requests),
      );
    }
    if (phases.has('uncached-rate')) {
      // The same scans at a fixed rate below saturation: the latency of an uncached scan itself, where the
      // phase above (connections sending back to back) measures it with the two cores saturated.
      const rate = Number(settings.uncachedRate ?? 100);
      const result = await paced(baseUrl, seconds, rate, uncached);
      results.push(
        ...figures(
          `scan uncached at ${rate} req/s (diagnostic)`,
          result,
          `the same distinct scans, one every ${(1000 / rate).toFixed(0)} ms (open loop)`,
        ),
      );
    }

    // 3. Symbol reads: first touch of each symbol (PostgreSQL), then a popular set (Redis).
    let next = 0;
    const popular = zipf(tickers.slice(0, 200));
    if (phases.has('symbols')) {
      // Warm the pool (its connections open as load needs them), so the probe sees every backend; still first touches.
      await load(baseUrl, 1, connections, () => `/api/symbols/${tickers[next++ % SYMBOL_COUNT]}`);
      const cpu = cpuProbe(server.pid!, db, redis);
      await cpu.start();
      const firstTouch = await load(
        baseUrl,
        Math.max(2, Math.round(seconds / 2)),
        connections,
        () => `/api/symbols/${tickers[next++ % SYMBOL_COUNT]}`,
      );
      results.push(
        ...figures('symbol read uncached', firstTouch, 'details + fundamentals + last bar, first touch'),
        ...cpu.figures('symbol read uncached', firstTouch.requests),
      );
      results.push(
        ...figures(
          'symbol read cached',
          await load(baseUrl, seconds, connections, () => `/api/symbols/${popular()}`),
          '200 popular symbols',
        ),
      );
    }
    if (!phases.has('mix')) return results;

    // 4. Dashboard mix while events arrive: 70% scans/stats (Zipf over 20 views), 30% symbol reads (Zipf over 200).
    const scan = zipf(DASHBOARD_SCANS);
    // Steady state: each dashboard view has been opened once before the measurement starts.
    for (const view of DASHBOARD_SCANS)
      await fetch(`${baseUrl}${view}`, { headers: credential }).then((response) => response.arrayBuffer());
    const before = await cacheCounts(baseUrl);
    let events = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        const symbols = Array.from({ length: 25 }, () => tickers[Math.floor(Math.random() * SYMBOL_COUNT)]!);
        const { rows: changed } = await db.query<{
          tier: string;
          confidence: number;
          relative_strength: number | null;
          volume: number | null;
          detected_at: Date;
        }>(
          `UPDATE patterns SET confidence = ((confidence * 1000 + 7)::bigint % 1000) / 1000.0, updated_at = now()
            WHERE pattern_id IN (SELECT pattern_id FROM patterns WHERE status = 'active' AND symbol = ANY($1::text[]) LIMIT 25)
            RETURNING tier, confidence::float8 AS confidence, relative_strength::float8 AS relative_strength, volume::float8 AS volume, detected_at`,
          [symbols],
        );
        // As the projector does after each applied batch: bump versions (per symbol, and per pattern scope of
        // each written row's new state), publish a notice.
        const changes = changed.map((row) => ({
          tier: row.tier,
          confidence: row.confidence,
          relativeStrength: row.relative_strength,
          volume: row.volume,
          detectedAt: row.detected_at.getTime(),
        }));
        await notifier.announce('db.patterns', [...new Set(symbols)], true, changes);
        events += symbols.length;
        await new Promise((resolve) => setTimeout(resolve, eventIntervalMs));
      }
    })();
    const mix = await load(baseUrl, seconds, connections, () => (Math.random() < 0.7 ? scan() : `/api/symbols/${popular()}`));
    stop = true;
    await writer;
    const after = await cacheCounts(baseUrl);
    const hits = after.hits - before.hits;
    const stale = after.stale - before.stale;
    const misses = after.misses - before.misses;
    results.push(
      ...figures(
        'dashboard mix',
        mix,
        `events: a batch of 25 every ${eventIntervalMs} ms (${events} in total), each bumping its symbols' versions and its rows' pattern scopes`,
      ),
    );
    results.push({
      name: 'dashboard mix cache hit ratio (exact)',
      value: hits / Math.max(1, hits + stale + misses),
      unit: 'ratio',
      note: `${hits} hits, ${stale} stale, ${misses} misses, ${after.bypass - before.bypass} bypass; refresh-ahead ${refreshAhead > 0 ? `on (${refreshAhead} entries)` : 'off'}`,
    });
    results.push({
      name: 'dashboard mix served from cache',
      value: (hits + stale) / Math.max(1, hits + stale + misses),
      unit: 'ratio',
      note: `stale answers at most ${maxStaleMs} ms old (broad scans only)`,
    });
    return results;
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => (server.exitCode !== null ? resolve(undefined) : server.once('exit', resolve)));
    const leftovers = await redis.keys(`${prefix}*`);
    for (let i = 0; i < leftovers.length; i += 500) await redis.del(...leftovers.slice(i, i + 500));
    redis.disconnect();
    await db.end();
  }
}

const suite: BenchSuite = {
  name: 'api',
  description:
    'REST API on plain PostgreSQL and TimescaleDB (--set db=plain|timescale for one): cached/uncached scans over a large pattern table, symbol reads, cache hit ratio under a dashboard mix with events arriving',
  async run(options) {
    // Both storage paths in one run (`--set db=plain|timescale` for one), each figure named with its path.
    const figures: Figure[] = [];
    for (const server of benchDatabases(options.settings)) figures.push(...pathFigures(server, await runOn(server, options)));
    return figures;
  },
};

export default suite;
