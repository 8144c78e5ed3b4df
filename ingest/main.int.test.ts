import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AvroCodec, createKafka, createLogger, loadPlatformConfig } from '../platform/index.js';
import { deleteTopicsUnder, uniquePrefix } from '../test/kafka.js';
import { loggedFeedTimes, runFileImport, runLiveIngest, runRestBackfill, runSimulator, runStartBackfill } from './main.js';
import { collectTopics, type Collector } from './testing/collect.js';
import { startFakeMassiveRest, type FakeMassiveRest } from './testing/fake-massive-rest.js';

// The process shells behind the CLI, configured through the environment exactly as `tickflow ingest` is.

const directory = mkdtempSync(join(tmpdir(), 'ingest-jobs-'));
const prefix = uniquePrefix('ingest-jobs');
const saved = { ...process.env };
let fake: FakeMassiveRest;
let collector: Collector;

beforeAll(async () => {
  fake = await startFakeMassiveRest({
    bars: { AAPL: [{ o: 1, h: 2, l: 0.5, c: 1.5, v: 100, t: Date.UTC(2025, 0, 2) }] },
    tickers: [{ ticker: 'AAPL', name: 'Apple Inc.', market: 'stocks' }],
    ratios: { AAPL: { ticker: 'AAPL', date: '2025-01-02', dividend_yield: 0.004 } },
  });
  Object.assign(process.env, {
    TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    MASSIVE_API_KEY: 'KEY',
    MASSIVE_REST_URL: fake.baseUrl,
    INGEST_OPS_PORT: '0',
    SIMULATOR_PORT: '0',
    SIMULATOR_SYMBOLS: '20',
  });
});

afterAll(async () => {
  await collector?.stop();
  await fake?.close();
  await deleteTopicsUnder(prefix);
  process.env = saved;
  rmSync(directory, { recursive: true, force: true });
});

describe('ingest jobs (CLI shells)', () => {
  it('rest: bars, symbols and fundamentals create their topics, register schemas and land in Kafka', async () => {
    expect(
      await runRestBackfill({ what: 'bars', symbols: ['AAPL'], timespan: 'day', from: '2025-01-02', to: '2025-01-02', details: false }),
    ).toMatchObject({ records: 1 });
    expect(await runRestBackfill({ what: 'symbols', symbols: [], timespan: 'day', details: true })).toMatchObject({ records: 1 });
    expect(await runRestBackfill({ what: 'fundamentals', symbols: ['AAPL'], timespan: 'day', details: false })).toMatchObject({
      records: 1,
    });
    await expect(runRestBackfill({ what: 'bars', symbols: ['AAPL'], timespan: 'day', details: false })).rejects.toThrow('--from and --to');
    await expect(runRestBackfill({ what: 'fundamentals', symbols: [], timespan: 'day', details: false })).rejects.toThrow(
      '--symbols is required',
    );
    const platform = loadPlatformConfig();
    const kafka = createKafka({
      brokers: platform.KAFKA_BROKERS,
      clientId: 'ingest-jobs-test',
      logger: createLogger('t', { level: 'silent' }),
    });
    collector = await collectTopics(kafka, new AvroCodec(platform.SCHEMA_REGISTRY_URL, prefix), [
      'dailyAggregates',
      'symbols',
      'fundamentals',
      'minuteAggregates',
      'trades',
    ]);
    await vi.waitFor(
      () =>
        expect(collector.messages.map((message) => message.topic.slice(prefix.length)).sort()).toEqual([
          'market.aggs.day.v1',
          'reference.fundamentals.v1',
          'reference.symbols.v1',
        ]),
      { timeout: 30_000, interval: 200 },
    );
  });

  it('file: imports a flat file', async () => {
    const path = join(directory, 'trades.csv');
    writeFileSync(
      path,
      'ticker,conditions,correction,exchange,id,participant_timestamp,price,sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp\nAAPL,"12,37",0,11,1,1,202.5,7,1735830000000000000,100,3,,\n',
    );
    expect(await runFileImport([path], undefined)).toEqual([{ layout: 'trades', rows: 1, records: 1, deadLetters: 0 }]);
    await vi.waitFor(() => expect(collector.on('trades')).toHaveLength(1), { timeout: 30_000, interval: 200 });
    expect(collector.on('trades')[0]!.value).toMatchObject({ conditions: [12, 37], sequence: 7, source: 'file' });
  });

  it('live: the embedded simulator feeds Kafka; the simulator also runs alone', async () => {
    const ingest = await runLiveIngest({ source: 'simulator', speed: 60, rate: 2000 });
    try {
      await vi.waitFor(() => expect(collector.on('minuteAggregates').length).toBeGreaterThan(0), { timeout: 60_000, interval: 200 });
      expect(ingest.simulatorPort).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${ingest.opsPort}/health`)).status).toBe(200);
    } finally {
      await ingest.stop();
    }
    const simulator = await runSimulator({ port: 0, speed: 1, rate: 100, symbols: 5 });
    try {
      expect((await fetch(`http://127.0.0.1:${simulator.port}/health`)).status).toBe(200);
    } finally {
      await simulator.stop();
    }
  });

  it("start: the log's latest bar times, and the backfill `npm start` runs against the simulator's REST side", async () => {
    // The earlier tests logged a daily bar (2025-01-02) and the simulator's minute bars.
    const logged = await loggedFeedTimes(createLogger('t', { level: 'silent' }));
    expect(logged.dailyStartMs).toBe(Date.UTC(2025, 0, 2));
    const latestMinute = Math.max(
      ...collector.on('minuteAggregates').map((message) => (message.value as { windowEndMs: number }).windowEndMs),
    );
    expect(logged.intradayMs).toBeGreaterThanOrEqual(latestMinute);

    const simulator = await runSimulator({ port: 0, speed: 1, rate: 10, symbols: 20 });
    try {
      const done = await runStartBackfill({
        restUrl: `http://127.0.0.1:${simulator.port}`,
        apiKey: 'simulator',
        dailyFrom: '2026-11-16',
        dailyTo: '2026-11-20',
        logger: createLogger('t', { level: 'silent' }),
      });
      // 20 symbols; a week of daily bars each when the simulated clock starts after it; the 5 stocks have fundamentals (the 15 ETFs none).
      expect(done.symbols).toBe(20);
      expect(done.fundamentals).toBe(5);
      await vi.waitFor(() => expect(collector.on('symbols').length).toBeGreaterThanOrEqual(21), { timeout: 30_000, interval: 200 });
      await vi.waitFor(() => expect(collector.on('fundamentals').length).toBeGreaterThanOrEqual(6), { timeout: 30_000, interval: 200 });
      expect(
        collector
          .on('symbols')
          .map((message) => message.value as { ticker: string; sector: string | null })
          .findLast((symbol) => symbol.ticker === 'AAPL')?.sector,
      ).toEqual(expect.any(String));
      expect(done.dailyBars).toBe(100);
    } finally {
      await simulator.stop();
    }
  });
});
