import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Partitioners, TOPICS } from '../platform/index.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { replay, resolveTopic } from './replay.js';
import { describeTopics, formatDescriptions } from '../platform/describe-topics.js';

function fundamentals(symbol: string, updatedAtMs: number) {
  return {
    symbol,
    asOfDate: '2026-11-01',
    fiscalPeriod: 'Q3',
    fiscalYear: 2026,
    eps: 1.5,
    epsEstimate: 1.4,
    epsSurprisePct: 7.1,
    revenue: 1e9,
    revenueYoYGrowthPct: 12,
    marketCap: 3e12,
    priceToEarnings: 30,
    priceToBook: null,
    evToEbitda: null,
    dividendYield: 0.005,
    debtToEquity: 1.2,
    source: 'test',
    updatedAtMs,
  };
}

describe('tickflow replay and topics describe against the real broker', () => {
  let env: TestKafka;
  let topic: string;
  const previousPrefix = process.env.TOPIC_PREFIX;
  const symbols = ['AAPL', 'MSFT', 'NVDA', 'SPY'];
  let splitTime = 0;

  beforeAll(async () => {
    env = await createTestTopics('replay', ['fundamentals']);
    process.env.TOPIC_PREFIX = env.prefix;
    topic = env.codec.topic('fundamentals');
    const encode = await env.codec.encoderFor<ReturnType<typeof fundamentals>>('fundamentals');
    const producer = env.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    const base = Date.now() - 60_000;
    await producer.send({
      topic,
      messages: symbols.map((symbol, index) => ({ key: symbol, value: encode(fundamentals(symbol, index)), timestamp: String(base) })),
    });
    splitTime = base + 30_000;
    await producer.send({
      topic,
      messages: symbols.map((symbol, index) => ({
        key: symbol,
        value: encode(fundamentals(symbol, 100 + index)),
        timestamp: String(splitTime + 1000),
      })),
    });
    // An aborted transaction: a read_committed replay must never show it.
    const transactional = env.kafka.producer({
      transactionalId: `${env.prefix}replay-txn`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await transactional.connect();
    const transaction = await transactional.transaction();
    await transaction.send({ topic, messages: [{ key: 'AAPL', value: encode(fundamentals('AAPL', 999)) }] });
    await transaction.abort();
    await transactional.disconnect();
    await producer.disconnect();
  });

  afterAll(async () => {
    if (previousPrefix === undefined) delete process.env.TOPIC_PREFIX;
    else process.env.TOPIC_PREFIX = previousPrefix;
    await env.cleanup();
  });

  async function collect(options: Parameters<typeof replay>[0]): Promise<string[]> {
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on('data', (chunk: Buffer) => chunks.push(chunk));
    await replay(options, output);
    return Buffer.concat(chunks).toString().split('\n').filter(Boolean);
  }

  it('resolves catalog keys and names to the deployed topic', () => {
    expect(resolveTopic('fundamentals', env.prefix)).toBe(topic);
    expect(resolveTopic('reference.fundamentals.v1', env.prefix)).toBe(topic);
    expect(resolveTopic('some.other.topic', env.prefix)).toBe('some.other.topic');
  });

  it('replays every committed record decoded, as JSON lines, and ends by itself', async () => {
    const lines = await collect({ topic: 'fundamentals', from: 'earliest', format: 'jsonl' });
    const records = lines.map(
      (line) => JSON.parse(line) as { key: string; value: { updatedAtMs: number; symbol: string }; partition: number; offset: string },
    );
    expect(records).toHaveLength(8);
    expect(records.map((record) => record.value.updatedAtMs).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 100, 101, 102, 103]);
    expect(records.every((record) => record.key === record.value.symbol)).toBe(true);
  });

  it('filters by symbol and starts from a time', async () => {
    const lines = await collect({
      topic: 'fundamentals',
      from: new Date(splitTime).toISOString(),
      symbols: ['AAPL', 'SPY'],
      format: 'jsonl',
    });
    const values = lines.map((line) => (JSON.parse(line) as { value: { symbol: string; updatedAtMs: number } }).value);
    expect(values.map((value) => `${value.symbol}:${value.updatedAtMs}`).sort()).toEqual(['AAPL:100', 'SPY:103']);
  });

  it('stops at an inclusive offset bound and writes CSV to a file', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'replay-')), 'out.csv');
    const { records, ranges } = await replay({ topic: 'fundamentals', from: 'earliest', to: '0', format: 'csv', out });
    const nonEmpty = ranges.filter((range) => range.end > range.start);
    expect(records).toBe(nonEmpty.length);
    const csv = readFileSync(out, 'utf8').trim().split('\n');
    expect(csv[0]).toBe(
      'topic,partition,offset,timestamp,key,symbol,asOfDate,fiscalPeriod,fiscalYear,eps,epsEstimate,epsSurprisePct,revenue,revenueYoYGrowthPct,marketCap,priceToEarnings,priceToBook,evToEbitda,dividendYield,debtToEquity,source,updatedAtMs',
    );
    expect(csv).toHaveLength(records + 1);
    expect(csv.slice(1).every((row) => row.split(',')[2] === '0')).toBe(true);
  });

  it('describes partitions, offsets, retention and group lag', async () => {
    const groupId = `${env.prefix}lagging-group`;
    const consumer = env.kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          seen += 1;
          // Commit only the first record of each partition: the rest is lag.
          if (message.offset === '0') await consumer.commitOffsets([{ topic, partition, offset: '1' }]);
          if (seen >= 8) resolve();
        },
      });
    });
    await consumer.disconnect();
    const admin = env.kafka.admin();
    await admin.connect();
    const [description] = await describeTopics(admin, [topic, `${env.prefix}does-not-exist`]);
    await admin.disconnect();
    expect(description!.partitions).toHaveLength(6);
    expect(description!.configs['cleanup.policy']).toBe(TOPICS.fundamentals.cleanupPolicy);
    expect(description!.configs['retention.ms']).toBe(String(TOPICS.fundamentals.retentionMs));
    const group = description!.groups.find((entry) => entry.groupId === groupId)!;
    const partitionsWithData = description!.partitions.filter((entry) => Number(entry.high) > 0);
    // Each partition with data: committed 1; its lag is everything after (including the aborted record and markers).
    expect(group.partitions).toHaveLength(partitionsWithData.length);
    expect(group.lag).toBe(partitionsWithData.reduce((sum, entry) => sum + Number(entry.high) - 1, 0));
    expect(formatDescriptions([description!])).toContain(`group ${groupId}  lag ${group.lag}`);
  });
});
