import type { ChainableCommander, Redis } from 'ioredis';
import type { AvroCodec } from '../platform/codec.js';
import type { Logger } from '../platform/logger.js';
import { partitionKey, type TopicKey } from '../platform/topics.js';
import { messagesPerMulti, planBatch, redisCommandsPerMessage, RejectedValueError, rowFor } from './core.js';
import { faultPoint, type FaultHook } from './faults.js';
import { decodeMessages } from './decode.js';
import type { ProjectorMetrics } from './metrics.js';
import type { PartitionBatch, PartitionSink, SinkOutcome } from './partition-consumer.js';
import { REDIS_PROJECTION, type ProjectionNotice, type RedisKeys } from '../contracts/redis-keys.js';
import { foldBar, parseSnapshot, patternWrites, snapshotFields, type RedisWrite, type SymbolSnapshot } from '../contracts/redis-model.js';
import type { AggregateValue, PatternEventValue } from '../contracts/values.js';
import { SkipDetector, type SkipStatus } from '../platform/skip-detector.js';
import { DEFAULT_REDIS_MAX_IN_FLIGHT } from './config.js';

export { REDIS_PROJECTION };
/** The notice a Redis rebuild publishes after its swap: live Redis projectors re-read their offsets and seek. */
export const REDIS_SWAP_NOTICE = 'redis.swap';

/** The topics the Redis read model folds. */
export const REDIS_TOPICS: readonly TopicKey[] = ['patterns', 'minuteAggregates', 'dailyAggregates'];

function queue(multi: ChainableCommander, write: RedisWrite): void {
  switch (write.op) {
    case 'set':
      if (write.ttlSeconds === undefined) multi.set(write.key, write.value);
      else multi.set(write.key, write.value, 'EX', write.ttlSeconds);
      return;
    case 'zadd':
      multi.zadd(write.key, write.score, write.member);
      return;
    case 'zrem':
      multi.zrem(write.key, write.member);
      return;
    case 'ztrim':
      multi.zremrangebyrank(write.key, 0, -(write.keep + 1));
      return;
    case 'hset':
      multi.hset(write.key, write.fields);
      return;
    case 'del':
      multi.del(write.key);
      return;
    case 'incr':
      multi.incr(write.key);
      return;
  }
}

function admissible(topicKey: TopicKey, value: unknown, topic: string, partition: number, offset: number): boolean {
  try {
    rowFor(topicKey, value, { topic, partition, offset });
    return true;
  } catch (error) {
    if (error instanceof RejectedValueError || error instanceof TypeError) return false;
    throw error;
  }
}

/**
 * The Redis read model as a sink: its progress lives in Redis (hash `offsets('redis')`), written in the same
 * MULTI as the data and guarded by WATCH, so it is independent of the database projection: with Redis down the
 * database keeps going, and this sink catches up from its own offsets when Redis returns.
 * One partition at a time (snapshots are read, folded and written back).
 */
export class RedisProjectionSink implements PartitionSink {
  /** Minute bars older than their symbol's latest leave the snapshot as it is (by design): never silently for long. */
  private readonly skips = new SkipDetector('projector redis (latest bars)');

  /** The skipping episode in progress, if any (for /ready). */
  skipping(nowMs = Date.now()): SkipStatus | undefined {
    this.reportSkipping(this.skips.evaluate(nowMs));
    const status = this.skips.status(nowMs);
    return status.skipping ? status : undefined;
  }

  constructor(
    private readonly redis: Redis,
    private readonly options: {
      readonly keys: RedisKeys;
      readonly topics: ReadonlyMap<string, TopicKey>;
      readonly codec: AvroCodec;
      readonly logger: Logger;
      readonly metrics: ProjectorMetrics;
      /** Crash injection at every step of a batch (tests). */
      readonly faultHook?: FaultHook;
      /** Called after each applied batch (rebuild progress). */
      readonly onApplied?: (topic: string, partition: number, nextOffset: number) => void;
      /**
       * Redis commands in flight at most (PROJECTOR_REDIS_MAX_IN_FLIGHT): a batch beyond it is written in several
       * MULTIs, each awaited before the next, so the consumer waits instead of queueing without bound.
       */
      readonly maxCommandsInFlight?: number;
    },
  ) {
    // Every pattern event touches as many scan sets, whatever its pattern and tier.
    const scanSets = options.keys.scanKeysFor('', 'daily').length;
    const max = options.maxCommandsInFlight ?? DEFAULT_REDIS_MAX_IN_FLIGHT;
    this.maxCommandsInFlight = max;
    this.messagesPerMulti = new Map(
      REDIS_TOPICS.map((topicKey) => [topicKey, messagesPerMulti(redisCommandsPerMessage(topicKey, scanSets), max)]),
    );
  }

  /** The cap on commands in flight (PROJECTOR_REDIS_MAX_IN_FLIGHT). */
  readonly maxCommandsInFlight: number;
  private readonly messagesPerMulti: ReadonlyMap<TopicKey, number>;
  private inFlight = 0;
  private peak = 0;

  /** Commands sent to Redis and not yet answered: a MULTI's, or the snapshot reads before it. */
  get commandsInFlight(): number {
    return this.inFlight;
  }

  /** The most commands in flight since the previous call (tracked on /metrics, read at each scrape). */
  takePeakCommandsInFlight(): number {
    const peak = this.peak;
    this.peak = this.inFlight;
    return peak;
  }

  /** Counts `commands` in flight until `work` (which sends them) settles. */
  private async inFlightWhile<T>(commands: number, work: () => Promise<T>): Promise<T> {
    this.inFlight += commands;
    this.peak = Math.max(this.peak, this.inFlight);
    try {
      return await work();
    } finally {
      this.inFlight -= commands;
    }
  }

  private reportSkipping(transition: ReturnType<SkipDetector['observe']>): void {
    if (transition?.kind === 'started')
      this.options.logger.warn({ reason: transition.status.reason, behindMs: transition.status.behindMs }, transition.status.message);
    else if (transition?.kind === 'ended') this.options.logger.info('projector redis: bars move the latest prices again');
  }

  private field(topic: string, partition: number): string {
    return partitionKey(topic, partition);
  }

  async storedOffsets(topic: string): Promise<Map<number, number>> {
    const all = await this.redis.hgetall(this.options.keys.offsets(REDIS_PROJECTION));
    const offsets = new Map<number, number>();
    for (const [field, value] of Object.entries(all)) {
      const cut = field.lastIndexOf(':');
      if (field.slice(0, cut) === topic) offsets.set(Number(field.slice(cut + 1)), Number(value));
    }
    return offsets;
  }

  /**
   * Writes a batch in MULTIs of at most `messagesPerMulti` messages, one after the other: each carries its own
   * offset, so a batch cut short (a crash between two) resumes after the last MULTI applied.
   */
  async write(batch: PartitionBatch): Promise<SinkOutcome> {
    const topicKey = this.options.topics.get(batch.topic);
    if (topicKey === undefined) throw new RangeError(`the Redis projection does not read topic ${batch.topic}`);
    const perMulti = this.messagesPerMulti.get(topicKey)!;
    if (batch.messages.length <= perMulti) return this.writeSlice(topicKey, batch);
    this.options.metrics.redisSplitBatches.inc({ projection: REDIS_PROJECTION, topic: batch.topic });
    let believed = batch.believed;
    let outcome: SinkOutcome | undefined;
    for (let start = 0; start < batch.messages.length; start += perMulti) {
      outcome = await this.writeSlice(topicKey, { ...batch, messages: batch.messages.slice(start, start + perMulti), believed });
      if (outcome.action === 'seek') return outcome;
      believed = outcome.nextOffset;
    }
    return outcome!;
  }

  private async writeSlice(topicKey: TopicKey, batch: PartitionBatch): Promise<SinkOutcome> {
    const { keys } = this.options;
    const offsetsKey = keys.offsets(REDIS_PROJECTION);
    const field = this.field(batch.topic, batch.partition);
    const firstOffset = Number(batch.messages[0]!.offset);
    const lastOffset = Number(batch.messages[batch.messages.length - 1]!.offset);
    const fault = faultPoint(this.options.faultHook, {
      projection: REDIS_PROJECTION,
      topic: batch.topic,
      partition: batch.partition,
      firstOffset,
    });
    await fault('consume');

    await this.redis.watch(offsetsKey);
    try {
      const storedText = await this.redis.hget(offsetsKey, field);
      const stored = storedText === null ? undefined : Number(storedText);
      // Our progress vanished while we had some: Redis lost its data (a restart without persistence). Rebuild from the log start.
      if (stored === undefined && batch.believed !== undefined && batch.believed > 0) {
        this.options.logger.warn(
          { topic: batch.topic, partition: batch.partition, believed: batch.believed },
          'Redis lost the read model; rebuilding it from the start of the log',
        );
        return { action: 'seek', offset: 0 };
      }
      const plan = planBatch({ stored, believed: batch.believed, firstOffset, lastOffset });
      if (plan.action === 'seek') return plan;
      await fault('watch');
      const fresh = batch.messages.filter((message) => Number(message.offset) >= plan.from);
      const decoded = await decodeMessages(this.options.codec, fresh);
      // Values the database projection rejects (see rowFor) are skipped here too: a NaN score fails the whole MULTI
      // (and the batch, forever), and a bar stamped centuries ahead would freeze its symbol's snapshot.
      const values = decoded.flatMap((message) =>
        message.kind === 'value' && admissible(topicKey, message.value, batch.topic, batch.partition, message.offset)
          ? [message.value]
          : [],
      );
      const skipped = decoded.length - values.length;

      const writes: RedisWrite[] = [];
      const symbols = new Set<string>();
      if (topicKey === 'patterns') {
        const events = values as PatternEventValue[];
        writes.push(...patternWrites(keys, events));
        for (const event of events) symbols.add(event.symbol);
      } else {
        const bars = values as AggregateValue[];
        const bySymbol = new Map<string, AggregateValue[]>();
        for (const bar of bars) {
          // Appended in place: a copy of the symbol's list per bar made a batch's grouping quadratic.
          const symbolBars = bySymbol.get(bar.symbol);
          if (symbolBars) symbolBars.push(bar);
          else bySymbol.set(bar.symbol, [bar]);
        }
        const current = await this.inFlightWhile(bySymbol.size, () =>
          Promise.all([...bySymbol.keys()].map((symbol) => this.redis.hgetall(keys.snapshot(symbol)))),
        );
        const nowMs = Date.now();
        let older = 0;
        [...bySymbol.entries()].forEach(([symbol, symbolBars], index) => {
          const before = parseSnapshot(current[index] ?? {});
          let latest = before.barStartMs ?? Number.NEGATIVE_INFINITY;
          for (const bar of symbolBars) {
            if (bar.interval !== 'MINUTE') continue;
            const behind = bar.windowStartMs < latest;
            if (behind) older += 1;
            else latest = bar.windowStartMs;
            this.reportSkipping(
              this.skips.observe(nowMs, behind ? { reason: 'older-than-latest', behindMs: latest - bar.windowStartMs } : undefined),
            );
          }
          const snapshot = symbolBars.reduce<SymbolSnapshot>(foldBar, before);
          writes.push(
            { op: 'del', key: keys.snapshot(symbol) },
            { op: 'hset', key: keys.snapshot(symbol), fields: snapshotFields(snapshot) },
          );
          symbols.add(symbol);
        });
        if (older > 0)
          this.options.metrics.skipped.inc({ projection: REDIS_PROJECTION, topic: batch.topic, reason: 'older-than-latest' }, older);
      }

      const multi = this.redis.multi();
      for (const write of writes) queue(multi, write);
      for (const symbol of symbols) multi.incr(keys.symbolVersion(symbol));
      const patternsChanged = topicKey === 'patterns' && values.length > 0;
      if (patternsChanged) multi.incr(keys.patternsVersion());
      multi.incr(keys.projectionVersion(REDIS_PROJECTION));
      multi.hset(offsetsKey, field, String(plan.nextOffset));
      await fault('exec');
      // The pipeline holds MULTI and the commands queued; exec() adds EXEC.
      const results = await this.inFlightWhile(multi.length + 1, () => multi.exec());
      if (results === null) {
        // Another writer moved the offsets between WATCH and EXEC: re-read and seek there.
        const moved = await this.redis.hget(offsetsKey, field);
        return { action: 'seek', offset: moved === null ? firstOffset : Number(moved) };
      }
      const failed = results.find(([error]) => error !== null);
      if (failed) throw failed[0];
      const version = Number(results[results.length - 2]![1]);
      const labels = { projection: REDIS_PROJECTION, topic: batch.topic };
      this.options.metrics.batches.inc({ ...labels, outcome: 'applied' });
      this.options.metrics.rows.inc(labels, values.length);
      if (skipped > 0)
        this.options.logger.debug(
          { topic: batch.topic, skipped },
          'messages without a value, or with one the database projection rejects, skipped by the Redis projection',
        );
      await fault('after-exec');
      const notice: ProjectionNotice = { projection: REDIS_PROJECTION, version, symbols: [...symbols].sort(), patternsChanged };
      await this.redis.publish(keys.channel(), JSON.stringify(notice)).catch((error: unknown) => {
        this.options.metrics.noticeFailures.inc({ projection: REDIS_PROJECTION });
        this.options.logger.warn({ err: error }, 'publishing the Redis projection notice failed');
      });
      await fault('publish');
      this.options.onApplied?.(batch.topic, batch.partition, plan.nextOffset);
      return { action: 'apply', nextOffset: plan.nextOffset };
    } finally {
      await this.redis.unwatch().catch(() => {});
    }
  }
}
