import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, createMetricsRegistry, topicName } from '../platform/index.js';
import type { TestKafka } from '../test/kafka.js';
import { backfillBars, backfillFundamentals, backfillSymbols } from './backfill.js';
import { CheckpointStore, readCheckpoints } from './checkpoint.js';
import { importFlatFile } from './flatfile.js';
import { createIngestMetrics } from './metrics.js';
import { MassiveRest } from './rest.js';
import { KafkaSink } from './sink.js';
import { collectTopics, createIngestTestTopics, type Collector } from './testing/collect.js';
import { startFakeMassiveRest, type FakeMassiveRest } from './testing/fake-massive-rest.js';

const logger = createLogger('ingest-backfill-int', { level: 'silent' });
const START = Date.UTC(2025, 0, 2);

describe('REST backfill and flat files -> Kafka (real broker and registry, local fake REST server)', () => {
  let topics: TestKafka;
  let sink: KafkaSink;
  let fake: FakeMassiveRest;
  let collector: Collector;
  const directory = mkdtempSync(join(tmpdir(), 'ingest-backfill-int-'));
  const openSink = () =>
    KafkaSink.create({
      kafka: topics.kafka,
      codec: topics.codec,
      logger,
      metrics: createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false })),
      benchmarkSymbol: 'SPY',
      topics: ['minuteAggregates', 'dailyAggregates', 'symbols', 'fundamentals', 'trades'],
      checkpoints: true,
    });
  /** An instance's view of the backfill progress: what the checkpoints topic holds, persisted through `owner`. */
  const checkpointsOf = async (owner: KafkaSink) =>
    new CheckpointStore(
      await readCheckpoints({
        kafka: topics.kafka,
        codec: topics.codec,
        topic: topicName('ingestCheckpoints', topics.prefix),
        groupPrefix: 'backfill-int',
        logger,
      }),
      (record) => owner.checkpoint(record),
    );

  beforeAll(async () => {
    topics = await createIngestTestTopics('ingest-backfill', [
      'minuteAggregates',
      'dailyAggregates',
      'symbols',
      'fundamentals',
      'trades',
      'deadLetters',
      'ingestCheckpoints',
    ]);
    sink = await openSink();
    fake = await startFakeMassiveRest({
      pageSize: 2,
      bars: {
        SPY: Array.from({ length: 5 }, (_, day) => ({
          o: 580,
          h: 585,
          l: 575,
          c: 582,
          v: 5e7,
          vw: 581,
          n: 400_000,
          t: START + day * 86_400_000,
        })),
      },
      tickers: [
        { ticker: 'SPY', name: 'SPDR S&P 500 ETF Trust', market: 'stocks', type: 'ETF', primary_exchange: 'ARCX' },
        { ticker: 'AAPL', name: 'Apple Inc.', market: 'stocks', type: 'CS', primary_exchange: 'XNAS' },
      ],
      ratios: { AAPL: { ticker: 'AAPL', date: '2025-01-02', price_to_earnings: 39 } },
    });
    collector = await collectTopics(topics.kafka, topics.codec, [
      'dailyAggregates',
      'symbols',
      'fundamentals',
      'minuteAggregates',
      'trades',
      'deadLetters',
    ]);
  });

  afterAll(async () => {
    await collector?.stop();
    await sink?.close();
    await fake?.close();
    await topics?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('daily bars across next_url pages and a 429 land in order, benchmark broadcast to every partition', async () => {
    fake.rateLimitNext(1, 0);
    const rest = new MassiveRest({ apiKey: 'KEY', baseUrl: fake.baseUrl, logger, backoffMs: 1 });
    const summary = await backfillBars({
      rest,
      sink,
      symbols: ['SPY'],
      timespan: 'day',
      from: '2025-01-02',
      to: '2025-01-06',
      checkpoint: new CheckpointStore(),
      logger,
      pageLimit: 2,
    });
    expect(summary).toMatchObject({ records: 5, pages: 3 });
    expect(rest.rateLimited).toBe(1);
    await vi.waitFor(() => expect(collector.on('dailyAggregates')).toHaveLength(5 * 6), { timeout: 30_000, interval: 200 });
    const canonical = collector.on('dailyAggregates').filter((message) => message.headers['tickflow-broadcast-copy'] === undefined);
    expect(canonical.map((message) => message.value.windowStartMs)).toEqual([0, 1, 2, 3, 4].map((day) => START + day * 86_400_000));
    expect(canonical[0]!.value).toMatchObject({ symbol: 'SPY', interval: 'DAY', source: 'rest', transactions: 400_000 });
  });

  it('an interrupted bars backfill resumes on another instance from the checkpoints topic, at the page it stopped at', async () => {
    const rest = new MassiveRest({ apiKey: 'KEY', baseUrl: fake.baseUrl, logger, backoffMs: 1, maxRetries: 0 });
    // SPY's 5 daily bars, 2 per page: pages 1 and 2 succeed, then the server fails.
    const job = { rest, symbols: ['SPY'], timespan: 'day' as const, from: '2025-01-01', to: '2025-01-31', logger, pageLimit: 2 };
    fake.requests.length = 0;
    fake.breakAfter(2);
    await expect(backfillBars({ ...job, sink, checkpoint: await checkpointsOf(sink) })).rejects.toThrow();
    await sink.flush();
    fake.heal();
    fake.requests.length = 0;
    // Another instance: its own sink and only what the topic holds.
    const other = await openSink();
    try {
      const resumed = await backfillBars({ ...job, sink: other, checkpoint: await checkpointsOf(other) });
      expect(resumed).toMatchObject({ records: 1, pages: 1 });
    } finally {
      await other.close();
    }
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatch(/\/v2\/aggs\/ticker\/SPY\/range\/1\/day\/2025-01-01\/2025-01-31\?.*cursor=4/);
    // Done: a third run fetches nothing.
    fake.requests.length = 0;
    expect(await backfillBars({ ...job, sink, checkpoint: await checkpointsOf(sink) })).toMatchObject({ records: 0, skippedSymbols: 1 });
    expect(fake.requests).toEqual([]);
  });

  it('reference tickers and fundamentals land on their compacted topics, keyed by ticker', async () => {
    const rest = new MassiveRest({ apiKey: 'KEY', baseUrl: fake.baseUrl, logger });
    await backfillSymbols({ rest, sink, logger, details: false });
    await backfillFundamentals({ rest, sink, symbols: ['AAPL'], logger });
    await vi.waitFor(() => expect(collector.on('symbols')).toHaveLength(2), { timeout: 30_000, interval: 200 });
    expect(collector.on('symbols').map((message) => [message.key, message.value.type])).toEqual(
      expect.arrayContaining([
        ['SPY', 'ETF'],
        ['AAPL', 'CS'],
      ]),
    );
    await vi.waitFor(() => expect(collector.on('fundamentals')).toHaveLength(1), { timeout: 30_000, interval: 200 });
    expect(collector.on('fundamentals')[0]).toMatchObject({ key: 'AAPL', value: { priceToEarnings: 39, asOfDate: '2025-01-02' } });
  });

  it('a minute flat file streams into minute bars; a bad row goes to the dead-letter topic', async () => {
    const path = join(directory, '2025-01-02.minute_aggs_v1.csv.gz');
    const rows = ['ticker,volume,open,close,high,low,window_start,transactions'];
    for (let minute = 0; minute < 30; minute += 1)
      rows.push(`AAPL,${1000 + minute},240,241,242,239,${(START + minute * 60_000) * 1_000_000},${10 + minute}`);
    rows.push('AAPL,1,x,1,1,1,1,1');
    writeFileSync(path, gzipSync(rows.join('\n')));
    const summary = await importFlatFile({ path, sink, batchSize: 7 });
    expect(summary).toEqual({ layout: 'aggregates', rows: 31, records: 30, deadLetters: 1 });
    await vi.waitFor(() => expect(collector.on('minuteAggregates')).toHaveLength(30), { timeout: 30_000, interval: 200 });
    expect(collector.on('minuteAggregates').map((message) => message.value.windowStartMs)).toEqual(
      Array.from({ length: 30 }, (_, minute) => START + minute * 60_000),
    );
    await vi.waitFor(() => expect(collector.on('deadLetters').some((message) => message.value.source === 'flatfile')).toBe(true), {
      timeout: 30_000,
      interval: 200,
    });
  });

  it('a record that does not match its schema becomes a dead letter instead of stopping the sink', async () => {
    const bad = { symbol: 'ZZZ', exchange: 'not-an-int', source: 'file' } as never;
    sink.produce([{ topic: 'trades', key: 'ZZZ', value: bad, eventTimeMs: 0 }]);
    await sink.flush();
    await vi.waitFor(() => expect(collector.on('deadLetters').some((message) => message.key === 'ZZZ')).toBe(true), {
      timeout: 30_000,
      interval: 200,
    });
    const letter = collector.on('deadLetters').find((message) => message.key === 'ZZZ')!;
    expect(letter.value.reason).toMatch(/^does not encode: value does not match the schema of .*market\.trades\.v1/);
    expect(JSON.parse((letter.value.rawPayload as Buffer).toString())).toMatchObject({ symbol: 'ZZZ', exchange: 'not-an-int' });
  });
});
