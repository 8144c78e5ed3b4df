import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BROADCAST_COPY_HEADER, Partitioners, createLogger } from '../platform/index.js';
import { withOpsServer } from '../test/ops.js';
import type { TestKafka } from '../test/kafka.js';
import { startIngest, type IngestHandle } from './live.js';
import { subscriptionParams } from './config.js';
import type { DeadLetterRecord } from './records.js';
import { collectTopics, createIngestTestTopics, type Collector } from './testing/collect.js';
import { massiveHandshake, startScriptedServer, type ScriptedServer } from './testing/scripted-server.js';

const logger = createLogger('ingest-int', { level: 'silent' });
const TOPICS = [
  'trades',
  'quotes',
  'secondAggregates',
  'minuteAggregates',
  'dailyAggregates',
  'luld',
  'fmv',
  'symbols',
  'fundamentals',
  'deadLetters',
] as const;

function partitionOf(key: string, count: number): number {
  return Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  });
}

// Both suites' topics are created up front: creating topics right after deleting others can make
// KRaft answer UNKNOWN_TOPIC_OR_PARTITION to the leader wait.
let liveTopics: TestKafka;
let badTopics: TestKafka;
beforeAll(async () => {
  liveTopics = await createIngestTestTopics('ingest-live', TOPICS);
  badTopics = await createIngestTestTopics('ingest-bad', TOPICS);
});
afterAll(async () => {
  await liveTopics?.cleanup();
  await badTopics?.cleanup();
});

describe('ingest: simulator -> Kafka (real broker and registry)', () => {
  let topics: TestKafka;
  let ingest: IngestHandle & { readonly opsPort: number };
  let collector: Collector;

  beforeAll(async () => {
    topics = liveTopics;
    // With the ops server ingest/main.ts serves: the process's registry and the ingest's checks.
    ingest = await withOpsServer(
      await startIngest({
        source: 'simulator',
        kafka: topics.kafka,
        codec: topics.codec,
        simulator: { port: 0, eventsPerSecond: 3000, speed: 60, universeSize: 40, logger },
        // The configured path of `tickflow ingest`, with INGEST_LULD and INGEST_FMV on.
        subscriptions: subscriptionParams(['T', 'Q', 'A', 'AM'], ['*'], true, true),
        benchmarkSymbol: 'SPY',
        logger,
      }),
    );
    collector = await collectTopics(topics.kafka, topics.codec, ['trades', 'quotes', 'minuteAggregates', 'luld', 'fmv', 'deadLetters']);
  });

  afterAll(async () => {
    await collector?.stop();
    await ingest?.stop();
  });

  it('produces normalised trades, quotes and minute bars keyed by symbol, co-partitioned by murmur2', async () => {
    await vi.waitFor(() => expect(collector.on('minuteAggregates').length).toBeGreaterThan(60), { timeout: 60_000, interval: 200 });
    const trade = collector.on('trades')[0]!;
    expect(trade.value).toMatchObject({
      symbol: trade.key,
      source: 'simulator',
      tradeId: expect.any(String),
      exchange: expect.any(Number),
    });
    expect(collector.on('quotes')[0]!.value).toMatchObject({ source: 'simulator' });
    for (const message of [...collector.on('trades').slice(0, 200), ...collector.on('quotes').slice(0, 200)]) {
      expect(message.partition).toBe(partitionOf(message.key, 6));
    }
    const bar = collector.on('minuteAggregates').find((message) => message.key !== 'SPY')!;
    expect(bar.value).toMatchObject({ interval: 'MINUTE', symbol: bar.key });
    expect((bar.value.windowEndMs as number) - (bar.value.windowStartMs as number)).toBe(60_000);
  });

  it('broadcasts benchmark (SPY) minute bars to every partition, copies marked by header', async () => {
    await vi.waitFor(
      () => {
        const spy = collector.on('minuteAggregates').filter((message) => message.key === 'SPY');
        expect(new Set(spy.map((message) => message.partition)).size).toBe(6);
      },
      { timeout: 60_000, interval: 200 },
    );
    const spy = collector.on('minuteAggregates').filter((message) => message.key === 'SPY');
    const home = partitionOf('SPY', 6);
    const firstWindow = spy[0]!.value.windowStartMs;
    const copiesOfFirst = spy.filter((message) => message.value.windowStartMs === firstWindow);
    expect(copiesOfFirst).toHaveLength(6);
    for (const message of copiesOfFirst) {
      expect(message.headers[BROADCAST_COPY_HEADER] !== undefined).toBe(message.partition !== home);
    }
  });

  it('LULD bands and FMV, subscribed by configuration, land normalised in their topics, keyed by symbol', async () => {
    await vi.waitFor(() => expect(collector.on('luld').length * collector.on('fmv').length).toBeGreaterThan(0), {
      timeout: 60_000,
      interval: 200,
    });
    const luld = collector.on('luld')[0]!;
    expect(luld.value).toMatchObject({ symbol: luld.key, tape: expect.any(Number), sequence: 1, indicators: [] });
    expect(luld.value.limitUp as number).toBeGreaterThan(luld.value.limitDown as number);
    expect(luld.partition).toBe(partitionOf(luld.key, 6));
    const fmv = collector.on('fmv')[0]!;
    expect(fmv.value).toMatchObject({ symbol: fmv.key, fmv: expect.any(Number) });
    expect(fmv.value.timestampMs).toBe(Math.round((fmv.value.timestampNs as number) / 1e6));
    expect((fmv.value.timestampMs as number) % 1000).toBe(0);
    expect(collector.on('deadLetters')).toEqual([]);
  });

  it('serves /health, /ready (streaming) and /metrics with the ingest counters', async () => {
    const base = `http://127.0.0.1:${ingest.opsPort}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await vi.waitFor(async () => expect((await fetch(`${base}/ready`)).status).toBe(200));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/tickflow_ingest_events_in_total\{source="simulator",stage="ingest"\} \d+/);
    expect(metrics).toMatch(/tickflow_ingest_events_out_total\{topic="trades",stage="ingest"\} \d+/);
    expect(metrics).toContain('tickflow_ingest_event_lag_seconds_bucket');
    expect(ingest.phase()).toBe('streaming');
  });
});

describe('ingest: bad input from a live source', () => {
  let topics: TestKafka;
  let server: ScriptedServer;
  let ingest: IngestHandle;
  let collector: Collector;
  const trade = (sym: string, q: number) => ({ ev: 'T', sym, x: 4, i: q, z: 3, p: 10 + q, s: 100, t: Date.now(), q });

  beforeAll(async () => {
    topics = badTopics;
    server = await startScriptedServer({
      onConnection: massiveHandshake.onConnection,
      onMessage: (connection, message) => {
        massiveHandshake.onMessage(connection, message);
        if (message.action !== 'subscribe') return;
        const send = (payload: unknown) => connection.socket.send(typeof payload === 'string' ? payload : JSON.stringify(payload));
        send([trade('AAPL', 1), trade('AAPL', 2)]);
        send('[{"ev":"T","sym":"AAPL", this is not json');
        send([{ ev: 'NOI', sym: 'MSFT', x: 1 }, trade('AAPL', 2), { ev: 'T', sym: 'MSFT', p: 'NaN' }]);
        send([trade('AAPL', 1), trade('AAPL', 3), trade('MSFT', 1)]);
      },
    });
    ingest = await startIngest({
      source: 'massive',
      url: server.url,
      apiKey: 'KEY',
      subscriptions: ['T.*'],
      kafka: topics.kafka,
      codec: topics.codec,
      benchmarkSymbol: 'SPY',
      logger,
    });
    collector = await collectTopics(topics.kafka, topics.codec, ['trades', 'deadLetters']);
  });

  afterAll(async () => {
    await collector?.stop();
    await ingest?.stop();
    await server?.close();
  });

  it('dead-letters garbage and unknown/malformed items with raw payload and reason, keeps running', async () => {
    await vi.waitFor(() => expect(collector.on('deadLetters')).toHaveLength(3), { timeout: 30_000, interval: 200 });
    const letters = collector.on('deadLetters').map((message) => ({ key: message.key, ...(message.value as unknown as DeadLetterRecord) }));
    expect(letters.map((letter) => letter.reason)).toEqual([
      expect.stringMatching(/^frame is not JSON/),
      'unknown event type "NOI"',
      'malformed T event: field i is not a string or number',
    ]);
    expect(letters.map((letter) => letter.key)).toEqual(['massive', 'MSFT', 'MSFT']);
    expect(letters[0]!.rawPayload.toString()).toBe('[{"ev":"T","sym":"AAPL", this is not json');
    expect(JSON.parse(letters[1]!.rawPayload.toString())).toEqual({ ev: 'NOI', sym: 'MSFT', x: 1 });
    expect(letters[0]).toMatchObject({ stage: 'ingest', source: 'massive' });
  });

  it('drops repeated events (same symbol and sequence): each trade lands exactly once', async () => {
    await vi.waitFor(() => expect(collector.on('trades')).toHaveLength(4), { timeout: 30_000, interval: 200 });
    await ingest.flush();
    // Order holds per symbol (one partition each), not across partitions.
    const perSymbol = (symbol: string) =>
      collector
        .on('trades')
        .filter((message) => message.key === symbol)
        .map((message) => `${message.value.sequence}:${message.value.tradeId}`);
    expect(perSymbol('AAPL')).toEqual(['1:1', '2:2', '3:3']);
    expect(perSymbol('MSFT')).toEqual(['1:1']);
    const metrics = await ingest.registry.getSingleMetricAsString('tickflow_ingest_duplicates_total');
    expect(metrics).toContain('tickflow_ingest_duplicates_total{source="massive",stage="ingest"} 2');
    expect(ingest.phase()).toBe('streaming');
  });
});
