import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { chromium, type Page } from 'playwright-core';
import { loadApiConfig, startApi } from '../../api/index.js';
import { DASHBOARD_DIST } from '../../api/routes-dashboard.js';
import pg from 'pg';
import { loadGatewayConfig, startGateway } from '../../gateway/index.js';
import { createLogger, loadAuthConfig, loadPlatformConfig, topicName, TokenService } from '../../platform/index.js';
import { startProjector } from '../../projections/index.js';
import { waitUntil } from '../../stack/local-stack.js';
import { CHROMIUM_ARGS, ensureChromium } from '../../test/browser.js';
import { migrate } from '../../store/migrate.js';
import { createTopicsRetrying } from '../../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix } from '../../test/postgres.js';
import { patternEvents } from '../../test/record-fixtures.js';
import { benchDatabaseUrl } from '../databases.js';
import { percentile, type BenchOptions, type BenchSuite, type Figure } from '../harness.js';

/**
 * The dashboard in headless Chromium, two phases (`--set phases=load,live` picks some):
 * - `load`: JavaScript shipped (gzipped, chart library included) and the time from a page load (signed in: the
 *   refresh token in sessionStorage) to the first rendered scanner rows, with the API warm. Reads the API bench's
 *   database (`npx tickflow bench api` seeds it: 10M patterns, 500k active); writes only a user; no gateway.
 * - `live`: the scanner open while pattern events arrive at `rate` per second (default 1,000) for 20 s × scale
 *   through the whole pipeline (Kafka, the projector into its own database and Redis, the gateway, the API): the
 *   page's long tasks (PerformanceObserver 'longtask': every task over 50 ms; goal none), whether the events shown
 *   keep up (received by the page / produced, when the producer stops, and the time to catch up after), and the time
 *   until the rows shown equal the API's answer.
 */
const suite: BenchSuite = {
  name: 'dashboard',
  onlyByName: true,
  description: 'dashboard: JS shipped (gzip), first scanner rows after load, long tasks and keeping up at 1,000 live events/s (Chromium)',
  async run({ scale, settings }: BenchOptions): Promise<Figure[]> {
    execFileSync(process.execPath, ['bin/ensure-dashboard.js'], { stdio: 'inherit' });
    const phases = (settings.phases ?? 'load,live').split(',');
    const figures: Figure[] = [];
    if (phases.includes('load')) figures.push(...(await measureLoad(scale)));
    if (phases.includes('live')) figures.push(...(await measureLive(scale, Number(settings.rate ?? 1000))));
    return figures;
  },
};

async function measureLoad(scale: number): Promise<Figure[]> {
  const assets = join(DASHBOARD_DIST, 'assets');
  const js = readdirSync(assets).filter((file) => file.endsWith('.js'));
  const gzipped = js.reduce((sum, file) => sum + gzipSync(readFileSync(join(assets, file)), { level: 9 }).length, 0);
  const platform = loadPlatformConfig();
  const api = await startApi({
    config: loadApiConfig({
      ...process.env,
      API_PORT: '0',
      API_PROJECTION_LAG_FROM_KAFKA: 'false',
      API_DASHBOARD_GATEWAY_URL: 'ws://{host}:9/ws',
      API_REDIS_PREFIX: `bench:dashboard:${Date.now()}:`,
    }),
    databaseUrl: benchDatabaseUrl('plain', 'tickflow_bench_api'),
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: platform.REDIS_KEY_PREFIX,
    brokers: platform.KAFKA_BROKERS,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    tokens: new TokenService(loadAuthConfig()),
    port: 0,
    logger: createLogger('bench-dashboard', { level: 'silent' }),
  });
  const browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${api.url}/app/`);
    await page.fill('input[name=email]', `bench-${Date.now()}@example.test`);
    await page.fill('input[name=password]', 'correct horse battery staple');
    await page.click('text=Create an account');
    await page.waitForSelector('[data-testid=rows] tr');
    const samples: number[] = [];
    const runs = Math.max(3, Math.round(20 * scale));
    for (let run = -3; run < runs; run += 1) {
      const started = performance.now();
      await page.reload();
      await page.waitForSelector('[data-testid=rows] tr');
      if (run >= 0) samples.push(performance.now() - started);
    }
    return [
      { name: 'JS shipped, gzipped', value: gzipped / 1024, unit: 'KiB', note: `${js.length} file(s), gzip -9; goal <= 250` },
      {
        name: 'first scanner rows after load, p50',
        value: percentile(samples, 50),
        unit: 'ms',
        note: `${samples.length} reloads; goal <= 1000`,
      },
      { name: 'first scanner rows after load, p95', value: percentile(samples, 95), unit: 'ms' },
    ];
  } finally {
    await browser.close();
    await api.stop();
  }
}

/** The page's long tasks since the last call (the observer is installed before the page's own scripts run). */
const LONG_TASK_OBSERVER = `
  window.__longTasks = [];
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) window.__longTasks.push(entry.duration); })
    .observe({ type: 'longtask', buffered: true });
`;
const takeLongTasks = (page: Page) =>
  page.evaluate(() => {
    const holder = window as unknown as { __longTasks: number[] };
    return holder.__longTasks.splice(0);
  });
const receivedOf = async (page: Page) => Number(await page.textContent('[data-testid=received]'));

async function measureLive(scale: number, rate: number): Promise<Figure[]> {
  const seconds = Math.max(5, Math.round(20 * scale));
  const platform = loadPlatformConfig();
  const logger = createLogger('bench-dashboard-live', { level: 'warn' });
  const tokens = new TokenService(loadAuthConfig());
  const [kafka, db] = await Promise.all([
    createTopicsRetrying('bench-dash', ['patterns', 'minuteAggregates', 'dailyAggregates']),
    createTestDatabase('bench_dash'),
  ]);
  await migrate(db.url, { timescale: 'off' });
  const topic = topicName('patterns', kafka.prefix);
  // A new topic's partitions have no leader for a moment: the stages start once every one has.
  const admin = kafka.kafka.admin();
  await admin.connect();
  await waitUntil(
    'the patterns topic having a leader for every partition',
    async () => {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0]!.partitions.length > 0 && topics[0]!.partitions.every((partition) => partition.leader >= 0);
      } catch {
        return false;
      }
    },
    30_000,
    200,
  );
  await admin.disconnect();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const producer = kafka.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const encode = await kafka.codec.encoderFor<unknown>('patterns');
  const redisPrefix = uniqueRedisPrefix('bench-dash');
  const projector = await startProjector({
    databaseUrl: db.url,
    brokers: kafka.brokers,
    registryUrl: kafka.registryUrl,
    topicPrefix: kafka.prefix,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: redisPrefix,
    projections: ['patterns', 'redis'],
    logger,
  });
  const gateway = await startGateway({
    topicPrefix: kafka.prefix,
    brokers: kafka.brokers,
    registryUrl: kafka.registryUrl,
    kafkaClientId: 'bench-dashboard-live',
    databaseUrl: db.url,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: redisPrefix,
    tokens,
    logger,
    streams: ['patterns'],
    config: { ...loadGatewayConfig({}), GATEWAY_PORT: 0 },
  });
  const api = await startApi({
    config: loadApiConfig({
      ...process.env,
      API_PORT: '0',
      API_REDIS_PREFIX: `${redisPrefix}api:`,
      API_PROJECTION_LAG_FROM_KAFKA: 'false',
      API_DASHBOARD_GATEWAY_URL: `ws://{host}:${gateway.port}/ws`,
    }),
    databaseUrl: db.url,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: redisPrefix,
    brokers: kafka.brokers,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    tokens,
    port: 0,
    logger: createLogger('bench-dashboard-live-api', { level: 'silent' }),
  });
  const browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
  try {
    // Distinct patterns (detected, updated, expired), a new seed per second so every id is new.
    const perTick = Math.max(1, Math.round(rate / 10));
    const batches = Array.from({ length: seconds * 10 }, (_, tick) =>
      patternEvents(perTick, 1000 + tick).map((value) => ({ key: value.symbol, value: encode(value) })),
    );
    const credentials = { email: `bench-live-${Date.now()}@example.test`, password: 'correct horse battery staple' };
    const registered = await fetch(`${api.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    const { access_token: accessToken } = (await registered.json()) as { access_token: string };
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(LONG_TASK_OBSERVER);
    await page.goto(`${api.url}/app/?sort_by=detected_at`);
    await page.fill('input[name=email]', credentials.email);
    await page.fill('input[name=password]', credentials.password);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    await takeLongTasks(page);

    // Open loop: every 100 ms, the tick's events go to Kafka without waiting on the page.
    let produced = 0;
    const started = performance.now();
    for (const [tick, batch] of batches.entries()) {
      const due = started + tick * 100 - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      await producer.send({ topic, acks: 1, messages: batch });
      produced += batch.length;
    }
    const producedFor = (performance.now() - started) / 1000;
    const shownAtStop = await receivedOf(page);
    const stoppedAt = performance.now();
    await waitUntil('the page receiving every event produced', async () => (await receivedOf(page)) >= produced, 120_000, 50);
    const caughtUpMs = performance.now() - stoppedAt;
    // The rows agree with the API once the projector has written the last events and the page has re-read.
    const scanIds = async () => {
      const response = await fetch(`${api.url}/api/patterns/scan?sort_by=detected_at&per_page=30`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return ((await response.json()) as { data: { id: string }[] }).data.map((row) => row.id).join();
    };
    await waitUntil(
      'the rows shown agreeing with the API',
      async () => {
        const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM pattern_events');
        if (Number(rows[0]!.n) < produced) return false;
        const shown = await page.$$eval('[data-testid=rows] tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id).join());
        return shown === (await scanIds());
      },
      120_000,
      // The page re-reads up to 4 times a second as the same user: the checks stay well within the API's rate limit.
      500,
    );
    const settledMs = performance.now() - stoppedAt;
    const longTasks = await takeLongTasks(page);
    return [
      {
        name: `live ${rate.toLocaleString('en-US')} events/s: long tasks (> 50 ms)`,
        value: longTasks.length,
        unit: 'tasks',
        note: `${produced} events in ${producedFor.toFixed(1)} s and the catch-up after; goal none`,
      },
      { name: 'live: longest task', value: longTasks.length > 0 ? Math.max(...longTasks) : 0, unit: 'ms' },
      {
        name: 'live: events shown when the producer stopped',
        value: (100 * shownAtStop) / produced,
        unit: '%',
        note: `${shownAtStop} of ${produced}`,
      },
      { name: 'live: catch-up after the producer stopped', value: caughtUpMs, unit: 'ms' },
      { name: 'live: rows equal to the API after the producer stopped', value: settledMs, unit: 'ms' },
    ];
  } finally {
    await browser.close();
    await api.stop();
    await gateway.stop();
    await projector.stop();
    await producer.disconnect();
    await pool.end();
    await Promise.all([kafka.cleanup(), db.drop()]);
  }
}

export default suite;
