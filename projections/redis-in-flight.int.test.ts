import type { KafkaMessage } from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec } from '../platform/codec.js';
import { loadPlatformConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { uniquePrefix } from '../test/kafka.js';
import { uniqueRedisPrefix } from '../test/postgres.js';
import { FIXTURE_SYMBOLS, minuteBars, patternEvents } from '../test/record-fixtures.js';
import { redisKeys, type RedisKeys } from '../contracts/redis-keys.js';
import { createProjectorMetrics } from './metrics.js';
import { RedisProjectionSink } from './redis-sink.js';
import type { TopicKey } from '../platform/topics.js';

const logger = createLogger('redis-in-flight-test', { level: 'silent' });
const config = loadPlatformConfig();
const TOPICS = new Map<string, TopicKey>([
  ['t.patterns', 'patterns'],
  ['t.bars', 'minuteAggregates'],
]);

/**
 * Commands the client has sent and Redis has not answered yet, counted where ioredis sends them (its command
 * queue holds each until its reply: the `Command.args` a heap snapshot of the projector showed growing).
 */
function countInFlight(redis: Redis): { readonly peak: () => number; readonly now: () => number } {
  let inFlight = 0;
  let peak = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    const settle = () => {
      inFlight -= 1;
    };
    command.promise.then(settle, settle);
    return send(command, stream);
  }) as Redis['sendCommand'];
  return { peak: () => peak, now: () => inFlight };
}

/** The read model as a comparable value: scan sets with scores, pattern states, symbol events and snapshots. */
async function readModel(redis: Redis, keys: RedisKeys): Promise<unknown> {
  const scans = await Promise.all(
    (['confidence', 'detected_at'] as const).map((sort) => redis.zrange(keys.scan({ kind: 'all' }, sort), '0', '-1', 'WITHSCORES')),
  );
  const ids = await redis.zrange(keys.scan({ kind: 'all' }, 'detected_at'), '0', '-1');
  const states = ids.length === 0 ? [] : await redis.mget(ids.map((id) => keys.pattern(id)));
  const symbols = await Promise.all(
    FIXTURE_SYMBOLS.map(async (symbol) => [
      await redis.zrange(keys.symbolEvents(symbol), '0', '-1', 'WITHSCORES'),
      await redis.hgetall(keys.snapshot(symbol)),
    ]),
  );
  return { scans, states, symbols, offsets: await redis.hgetall(keys.offsets('redis')) };
}

describe('the Redis read model against the real Redis, with a small cap on commands in flight', () => {
  let codec: AvroCodec;
  let redis: Redis;
  const prefixes = [uniqueRedisPrefix('in-flight-capped'), uniqueRedisPrefix('in-flight-wide')];

  beforeAll(async () => {
    codec = new AvroCodec(config.SCHEMA_REGISTRY_URL, uniquePrefix('in-flight'));
    await codec.registerAll(['patterns', 'minuteAggregates']);
    redis = new Redis(config.REDIS_URL);
  });

  afterAll(async () => {
    for (const prefix of prefixes) {
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length > 0) await redis.del(...stale);
    }
    redis?.disconnect();
  });

  async function messages(topicKey: TopicKey, values: readonly unknown[]): Promise<KafkaMessage[]> {
    const encode = await codec.encoderFor<unknown>(topicKey);
    return values.map((value, offset) => ({
      key: null,
      value: encode(value),
      timestamp: '0',
      attributes: 0,
      offset: String(offset),
      headers: {},
    }));
  }

  /** Writes the batches through a sink with its own connection; returns the peak of commands in flight. */
  async function project(prefix: string, maxCommandsInFlight: number, batches: readonly [string, KafkaMessage[]][]) {
    const connection = new Redis(config.REDIS_URL);
    const counter = countInFlight(connection);
    const registry = createMetricsRegistry('redis-in-flight-test', { collectDefaults: false });
    const sink = new RedisProjectionSink(connection, {
      keys: redisKeys(prefix),
      topics: TOPICS,
      codec,
      logger,
      metrics: createProjectorMetrics(registry),
      maxCommandsInFlight,
    });
    try {
      for (const [topic, batch] of batches) {
        const outcome = await sink.write({ topic, partition: 0, messages: batch, believed: undefined, pause: () => () => {} });
        expect(outcome).toEqual({ action: 'apply', nextOffset: batch.length });
      }
      expect(counter.now()).toBe(0);
      const split = (await registry.getSingleMetric('tickflow_projection_redis_split_batches_total')!.get()).values;
      return { peak: counter.peak(), split: split.reduce((sum, value) => sum + value.value, 0) };
    } finally {
      connection.disconnect();
    }
  }

  it('writes batches far beyond the cap with at most the cap in flight, and the same read model as one MULTI', async () => {
    const batches: [string, KafkaMessage[]][] = [
      ['t.patterns', await messages('patterns', patternEvents(1_500, 11))],
      ['t.bars', await messages('minuteAggregates', minuteBars(FIXTURE_SYMBOLS, 60))],
    ];
    const cap = 120;
    const capped = await project(prefixes[0]!, cap, batches);
    const wide = await project(prefixes[1]!, 100_000, batches);

    // The watch, offset read, publish and unwatch are sent one at a time, after the MULTI they surround is answered.
    expect(capped.peak).toBeLessThanOrEqual(cap);
    expect(capped.split).toBe(2);
    expect(wide.peak).toBeGreaterThan(10 * cap);
    expect(wide.split).toBe(0);
    expect(await readModel(redis, redisKeys(prefixes[0]!))).toEqual(await readModel(redis, redisKeys(prefixes[1]!)));
  });
});
