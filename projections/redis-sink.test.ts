import type { KafkaMessage } from 'kafkajs';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { AvroCodec } from '../platform/codec.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { createLogger } from '../platform/logger.js';
import { redisKeys } from '../contracts/redis-keys.js';
import { minuteBars, patternEvents } from '../test/record-fixtures.js';
import { messagesPerMulti, redisCommandsPerMessage, REDIS_COMMANDS_PER_MULTI } from './core.js';
import { createProjectorMetrics } from './metrics.js';
import type { PartitionBatch, SinkOutcome } from './partition-consumer.js';
import { RedisProjectionSink } from './redis-sink.js';

const keys = redisKeys('unit:');
const TOPIC_PATTERNS = 't.patterns';
const TOPIC_BARS = 't.bars';

/** A codec stub: values travel as JSON. */
const codec = { decodeCached: (buffer: Buffer) => JSON.parse(buffer.toString()) as unknown } as unknown as AvroCodec;

/**
 * A Redis double that counts what a real server would have in flight: commands sent and not yet answered. A MULTI
 * is answered only when the test releases it, as a slow Redis would; hashes and the offsets live in maps.
 */
class SlowRedis {
  inFlight = 0;
  peak = 0;
  execs = 0;
  readonly commands = new Map<string, number>();
  readonly hashes = new Map<string, Map<string, string>>();
  private readonly pending: (() => void)[] = [];
  private counter = 0;
  private onExec: (() => void) | undefined;

  private send(count: number): void {
    this.inFlight += count;
    this.peak = Math.max(this.peak, this.inFlight);
  }

  /** Answers every MULTI sent so far. */
  release(): void {
    for (const answer of this.pending.splice(0)) answer();
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Resolves once a MULTI waits for its answer. */
  execSent(): Promise<void> {
    return this.pending.length > 0 ? Promise.resolve() : new Promise((resolve) => (this.onExec = resolve));
  }

  watch = async () => 'OK';
  unwatch = async () => 'OK';
  publish = async () => 0;
  hget = async (key: string, field: string) => this.hashes.get(key)?.get(field) ?? null;
  hgetall = async (key: string) => {
    this.send(1);
    await Promise.resolve();
    this.inFlight -= 1;
    return Object.fromEntries(this.hashes.get(key) ?? []);
  };

  multi() {
    const queued: (() => unknown)[] = [];
    const record = (name: string, apply: () => unknown = () => 'OK') => {
      this.commands.set(name, (this.commands.get(name) ?? 0) + 1);
      queued.push(apply);
      return chain;
    };
    const chain = {
      get length() {
        return queued.length + 1; // MULTI
      },
      set: () => record('set'),
      zadd: () => record('zadd'),
      zrem: () => record('zrem'),
      zremrangebyrank: () => record('zremrangebyrank'),
      del: () => record('del'),
      incr: () => record('incr', () => (this.counter += 1)),
      hset: (key: string, field: string | Record<string, string>, value?: string) =>
        record('hset', () => {
          const hash = this.hashes.get(key) ?? new Map<string, string>();
          if (typeof field === 'string') hash.set(field, value!);
          else for (const [name, text] of Object.entries(field)) hash.set(name, text);
          this.hashes.set(key, hash);
          return 1;
        }),
      exec: () => {
        const count = queued.length + 2; // MULTI and EXEC
        this.send(count);
        this.execs += 1;
        return new Promise((resolve) => {
          this.pending.push(() => {
            this.inFlight -= count;
            resolve(queued.map((apply) => [null, apply()]));
          });
          this.onExec?.();
          this.onExec = undefined;
        });
      },
    };
    return chain;
  }
}

function sinkOn(redis: SlowRedis, maxCommandsInFlight: number): RedisProjectionSink {
  return new RedisProjectionSink(redis as unknown as Redis, {
    keys,
    topics: new Map([
      [TOPIC_PATTERNS, 'patterns'],
      [TOPIC_BARS, 'minuteAggregates'],
    ]),
    codec,
    logger: createLogger('redis-sink-test', { level: 'silent' }),
    metrics: createProjectorMetrics(createMetricsRegistry('redis-sink-test', { collectDefaults: false })),
    maxCommandsInFlight,
  });
}

function batchOf(topic: string, values: readonly unknown[]): PartitionBatch {
  const messages: KafkaMessage[] = values.map((value, offset) => ({
    key: null,
    value: Buffer.from(JSON.stringify(value)),
    timestamp: '0',
    attributes: 0,
    offset: String(offset),
    headers: {},
  }));
  return { topic, partition: 0, messages, believed: undefined, pause: () => () => {} };
}

/** Writes `batch`, answering each MULTI once the sink has sent it and waits; returns the outcome. */
async function writeAnswering(redis: SlowRedis, sink: RedisProjectionSink, batch: PartitionBatch): Promise<SinkOutcome> {
  let outcome: SinkOutcome | undefined;
  const writing = sink.write(batch).then((result) => (outcome = result));
  for (;;) {
    await Promise.race([redis.execSent(), writing]);
    if (outcome !== undefined) return outcome;
    // Let the sink run as far as it would while Redis is slow: it waits for this MULTI and sends nothing more.
    await new Promise((resolve) => setImmediate(resolve));
    expect(redis.waiting).toBe(1);
    expect(sink.commandsInFlight).toBeLessThanOrEqual(sink.maxCommandsInFlight);
    redis.release();
  }
}

describe('the Redis sink keeps its commands in flight under PROJECTOR_REDIS_MAX_IN_FLIGHT', () => {
  it('writes a batch of patterns far beyond the cap in MULTIs that each stay at or below it', async () => {
    const redis = new SlowRedis();
    const cap = 200;
    const sink = sinkOn(redis, cap);
    const events = patternEvents(2_000, 7);
    const outcome = await writeAnswering(redis, sink, batchOf(TOPIC_PATTERNS, events));

    expect(outcome).toEqual({ action: 'apply', nextOffset: 2_000 });
    expect(redis.peak).toBeLessThanOrEqual(cap);
    // Not trivially small: the MULTIs fill the cap to within one message's commands.
    expect(redis.peak).toBeGreaterThan(cap - redisCommandsPerMessage('patterns', 8));
    expect(redis.execs).toBe(Math.ceil(2_000 / messagesPerMulti(redisCommandsPerMessage('patterns', 8), cap)));
    expect(redis.commands.get('set')).toBe(2_000); // every event's state, once
    expect(redis.hashes.get(keys.offsets('redis'))?.get(`${TOPIC_PATTERNS}:0`)).toBe('2000');
    expect(redis.inFlight).toBe(0);
    expect(sink.commandsInFlight).toBe(0);
    // What /metrics reports: the sink's own count agrees with the double's peak, then falls back to what is in flight.
    expect(sink.takePeakCommandsInFlight()).toBe(redis.peak);
    expect(sink.takePeakCommandsInFlight()).toBe(0);
  });

  it('counts the snapshot reads of bars against the cap too', async () => {
    const redis = new SlowRedis();
    const cap = 100;
    const sink = sinkOn(redis, cap);
    // 500 distinct symbols, one bar each: every bar is its own snapshot read and rewrite.
    const symbols = Array.from({ length: 500 }, (_, index) => `S${index}`);
    const bars = minuteBars(symbols, 1);
    const outcome = await writeAnswering(redis, sink, batchOf(TOPIC_BARS, bars));

    expect(outcome).toEqual({ action: 'apply', nextOffset: 500 });
    expect(redis.peak).toBeLessThanOrEqual(cap);
    expect(redis.execs).toBe(Math.ceil(500 / messagesPerMulti(3, cap)));
    expect(redis.hashes.get(keys.snapshot('S499'))?.get('close')).toBeDefined();
  });

  it('sends a batch within the cap as one MULTI', async () => {
    const redis = new SlowRedis();
    const sink = sinkOn(redis, 5_000);
    await writeAnswering(redis, sink, batchOf(TOPIC_PATTERNS, patternEvents(100, 3)));
    expect(redis.execs).toBe(1);
  });

  it('refuses a cap that cannot hold one message', () => {
    expect(() => sinkOn(new SlowRedis(), REDIS_COMMANDS_PER_MULTI + 11)).toThrow(RangeError);
    expect(() => sinkOn(new SlowRedis(), REDIS_COMMANDS_PER_MULTI + 12)).not.toThrow();
  });
});
