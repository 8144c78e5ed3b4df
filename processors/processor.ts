import { hostname } from 'node:os';
import type { DeadLetterRecord } from '../platform/records.js';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, Producer } from 'kafkajs';
import {
  AvroCodec,
  Counter,
  Gauge,
  createKafka,
  isBroadcastCopy,
  topicName,
  type Encoder,
  type Logger,
  type Registry,
  type TopicKey,
} from '../platform/index.js';
import { tailTopic, type TopicTail } from '../platform/topic-tail.js';
import { SkipDetector, type SkipCause, type SkipStatus, type SkipTransition } from '../platform/skip-detector.js';
import { ENGINE_VERSION, PatternEngine, SnapshotVersionError, type BarInput, type BarOutcome, type EngineOptions, type FundamentalsInput, type PatternEventRecord } from './engine.js';
import { FundamentalsHistory } from './fundamentals.js';
import { SnapshotChunkTable, splitSnapshot } from './snapshot-chunks.js';
import { NativeBarsTable, TradeBarBuilder, type TradeInput } from './trade-bars.js';

/** A message a partition core wants produced in the same transaction as its input offsets. */
interface OutputMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly partition: number;
}

/** Why an input record was not folded (or made the core throw): what its dead letter says. */
interface FoldRejection {
  readonly reason: string;
  readonly details: string;
}

/** What one input partition runs: the pure engine (or trade-bar builder) behind a small adapter. */
interface PartitionCore {
  /**
   * Folds one decoded input; `out` is undefined while replaying (outputs were already committed). A rejected
   * record, or one that made the core throw, comes back as a FoldRejection, to be dead-lettered.
   */
  fold(value: unknown, headers: IHeaders | undefined, offset: number, out: OutputMessage[] | undefined): 'applied' | 'skipped' | FoldRejection;
  /** Why the last folded record was skipped (undefined when kept, or skipped harmlessly by design). */
  lastSkip: SkipCause | undefined;
  snapshot(): Buffer;
}

interface SnapshotValue {
  group: string;
  inputTopic: string;
  partition: number;
  nextOffset: number;
  engineVersion: number;
  state: Buffer;
  createdAtMs: number;
}

type DeadLetterValue = DeadLetterRecord;

interface PartitionTask {
  readonly topic: string;
  readonly partition: number;
  readonly producer: Producer;
  core: PartitionCore;
  /** The next input offset to fold. */
  nextOffset: number;
  /** Offsets below this were already committed with their output: fold them silently. */
  replayUntil: number;
  /** Set while waiting for a seek back to the snapshot's offset to take effect. */
  seekTo: number | undefined;
  seekAttempts: number;
  /** Fetch position of the last replay gap sought back from (see processBatch). */
  gapSeekFrom: number;
  recordsSinceSnapshot: number;
  /** Input offset of the last snapshot written (or restored). */
  snapshotOffset: number;
}

export interface ProcessorOptions {
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly topicPrefix: string;
  readonly groupId: string;
  readonly inputs: readonly TopicKey[];
  readonly engine: EngineOptions;
  readonly logger: Logger;
  readonly metrics?: Registry;
  readonly useFundamentals?: boolean;
  /** Build minute bars from the trades topic into the minute topic. */
  readonly tradeBars?: boolean;
  readonly tradeBarLatenessMs?: number;
  /** How far ahead of a partition's event time one record may move it (see processors/input-guard.ts). */
  readonly maxEventTimeSkewMs?: number;
  readonly snapshotEveryRecords?: number;
  readonly snapshotMaxBytes?: number;
  readonly maxRecordsPerTransaction?: number;
  readonly clientId?: string;
  /**
   * Called when the processor cannot recover by itself: a failed batch whose partition has not reopened
   * within `stallTimeoutMs`, or a consumer crash kafkajs will not restart. The CLI exits so that the
   * supervisor restarts the process; transactions and snapshots make that as safe as a kill -9.
   */
  readonly onStall?: (reason: string) => void;
  readonly stallTimeoutMs?: number;
}

export interface ProcessorHandle {
  /** True once the group has been joined and the side tables are loaded. */
  readonly ready: () => boolean;
  /** Partitions the group assigned to this instance at its last join, as `topic:partition`. */
  readonly assigned: () => string[];
  /** Input topics whose records are (nearly) all being skipped, with why. */
  readonly skipping: () => SkipStatus[];
  /** Stops consuming, writes a final snapshot of each partition, and disconnects. */
  stop(): Promise<void>;
}

/**
 * The transaction coordinator answers CONCURRENT_TRANSACTIONS (51) while the markers of the previous
 * transaction (or of a fenced owner's) are still being written; the Java client retries it, and kafkajs
 * does so for produce but not for AddOffsetsToTxn, so the shell retries it with a short backoff.
 */
async function retryConcurrentTransactions<T>(operation: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== 51 || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, 20 * attempt)));
    }
  }
}

const SUPPORTED_INPUTS: readonly TopicKey[] = ['minuteAggregates', 'dailyAggregates'];

function createMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    records: new Counter({ name: 'tickflow_processor_records_total', help: 'Input records by topic and outcome', labelNames: ['topic', 'outcome'], registers }),
    events: new Counter({ name: 'tickflow_processor_events_total', help: 'Output messages by topic', labelNames: ['topic'], registers }),
    transactions: new Counter({ name: 'tickflow_processor_transactions_total', help: 'Kafka transactions by result', labelNames: ['result'], registers }),
    snapshots: new Counter({ name: 'tickflow_processor_snapshots_total', help: 'State snapshots by result', labelNames: ['result'], registers }),
    snapshotBytes: new Gauge({ name: 'tickflow_processor_snapshot_bytes', help: 'Size of the last snapshot of a partition', labelNames: ['topic', 'partition'], registers }),
    assigned: new Gauge({ name: 'tickflow_processor_assigned_partitions', help: 'Input partitions processed by this instance', registers }),
  };
}

/**
 * The streaming shell: a consumer group over the aggregate topics; each input partition has its own
 * engine and its own transactional producer (transactionalId = group.topic.partition, so a new owner
 * fences the old one after a rebalance). Every batch is one consume-transform-produce transaction:
 * pattern events, dead letters, an occasional state snapshot and the input offsets commit together.
 */
export async function startProcessor(options: ProcessorOptions): Promise<ProcessorHandle> {
  const logger = options.logger;
  const metrics = createMetrics(options.metrics);
  const inputs = [...options.inputs];
  for (const input of inputs) {
    if (!SUPPORTED_INPUTS.includes(input)) throw new Error(`unsupported processor input ${input}; use ${SUPPORTED_INPUTS.join(' or ')}`);
  }
  const clientId = options.clientId ?? `tickflow-processor-${hostname()}-${process.pid}`;
  const kafka: Kafka = createKafka({ brokers: options.brokers, clientId, logger });
  const codec = new AvroCodec(options.registryUrl, options.topicPrefix);
  const topic = (key: TopicKey) => topicName(key, options.topicPrefix);
  const patternsTopic = topic('patterns');
  const snapshotsTopic = topic('processorSnapshots');
  const deadLetterTopic = topic('deadLetters');
  const minuteTopic = topic('minuteAggregates');
  const tradesTopic = topic('trades');
  const encodePattern = await codec.encoderFor<PatternEventRecord>('patterns');
  const encodeSnapshot = await codec.encoderFor<SnapshotValue>('processorSnapshots');
  const encodeDeadLetter = await codec.encoderFor<DeadLetterValue>('deadLetters');
  const encodeAggregate: Encoder<unknown> | undefined = options.tradeBars ? await codec.encoderFor<unknown>('minuteAggregates') : undefined;
  const snapshotEvery = options.snapshotEveryRecords ?? 50_000;
  const snapshotMaxBytes = options.snapshotMaxBytes ?? 900_000;
  const maxPerTransaction = options.maxRecordsPerTransaction ?? 5_000;

  const admin = kafka.admin();
  await admin.connect();
  const patternsPartitions = (await admin.fetchTopicMetadata({ topics: [patternsTopic] })).topics[0]!.partitions.length;

  // Side tables: fundamentals (every record, by date: see FundamentalsHistory) and snapshots (latest per partition), both tailed.
  const fundamentals = new FundamentalsHistory();
  const snapshots = new SnapshotChunkTable<SnapshotValue>();
  const tails: TopicTail[] = [];
  if (options.useFundamentals ?? true) {
    tails.push(
      await tailTopic({
        kafka,
        topic: topic('fundamentals'),
        groupPrefix: options.groupId,
        logger,
        onMessage: async (message) => {
          if (!message.value) return;
          try {
            // Every instance reads the whole topic, so a bad record is logged here, not dead-lettered (the reference
            // projection keeps it among its rejects).
            if (!fundamentals.put(await codec.decode<FundamentalsInput>(message.value))) logger.warn({ offset: message.offset }, 'fundamentals record without a symbol or a real asOfDate skipped');
          } catch (error) {
            logger.warn({ err: error, offset: message.offset }, 'undecodable fundamentals record skipped');
          }
        },
      }),
    );
  }
  // Symbols with native minute bars get no trade-built bars: the minute topic is read (whole) before any trade.
  const nativeBars = new NativeBarsTable();
  if (options.tradeBars) {
    tails.push(
      await tailTopic({
        kafka,
        topic: minuteTopic,
        groupPrefix: options.groupId,
        logger,
        onMessage: async (message) => {
          if (!message.value) return;
          // Bars are keyed by symbol: once a symbol is native, its later bars need no decoding (the
          // table keeps the symbol's first native bar in log order, the same in every run).
          if (message.key !== null && nativeBars.nativeSince(message.key.toString()) !== undefined) return;
          try {
            const bar = await codec.decode<BarInput>(message.value);
            nativeBars.record(bar.symbol, bar.windowStartMs, bar.source);
          } catch {
            // Undecodable minute bars are dead-lettered by the minute engine; here they just say nothing.
          }
        },
      }),
    );
  }
  const snapshotTail = await tailTopic({
    kafka,
    topic: snapshotsTopic,
    groupPrefix: options.groupId,
    logger,
    onMessage: async (message) => {
      if (!message.value || !message.key) return;
      try {
        const snapshot = await codec.decode<SnapshotValue>(message.value);
        if (snapshot.group === options.groupId) snapshots.put(message.key.toString(), snapshot);
      } catch (error) {
        logger.warn({ err: error, offset: message.offset }, 'undecodable snapshot skipped');
      }
    },
  });
  tails.push(snapshotTail);
  for (const tail of tails) await tail.caughtUp();

  const engineOptions: EngineOptions = { ...options.engine, fundamentals, ...(options.maxEventTimeSkewMs === undefined ? {} : { maxEventTimeSkewMs: options.maxEventTimeSkewMs }) };
  const tasks = new Map<string, PartitionTask>();
  let joined = false;
  let assignment: string[] = [];
  let stopping = false;
  /** When a batch failed and no partition has reopened since (the stall watchdog's clock). */
  let failedSince: number | undefined;

  // Skipping (nearly) everything is never silent: one WARN per episode, and /ready says why.
  const skipDetectors = new Map<string, SkipDetector>();
  const skipDetector = (inputTopic: string) => {
    let detector = skipDetectors.get(inputTopic);
    if (!detector) skipDetectors.set(inputTopic, (detector = new SkipDetector(`processor input ${inputTopic}`)));
    return detector;
  };
  const reportSkipping = (inputTopic: string, transition: SkipTransition | undefined) => {
    if (transition?.kind === 'started') logger.warn({ topic: inputTopic, reason: transition.status.reason, behindMs: transition.status.behindMs }, transition.status.message);
    else if (transition?.kind === 'ended') logger.info({ topic: inputTopic }, `processor input ${inputTopic}: records are applied again`);
  };
  const skipTimer = setInterval(() => {
    for (const [inputTopic, detector] of skipDetectors) reportSkipping(inputTopic, detector.evaluate(Date.now()));
  }, 5_000);
  skipTimer.unref();

  const snapshotKey = (inputTopic: string, partition: number) => `${options.groupId}/${inputTopic}/${partition}`;

  function createCore(inputTopic: string, partition: number, state: Buffer | undefined): PartitionCore {
    if (inputTopic === tradesTopic) {
      const skew = options.maxEventTimeSkewMs;
      const builder = state ? TradeBarBuilder.restore(state, options.tradeBarLatenessMs, nativeBars, skew) : new TradeBarBuilder(options.tradeBarLatenessMs, nativeBars, skew);
      const core: PartitionCore = {
        lastSkip: undefined,
        fold: (value, _headers, _offset, out) => {
          const trade = value as TradeInput;
          const produced: OutputMessage[] = [];
          const late = builder.lateTrades;
          core.lastSkip = undefined;
          try {
            const bars = builder.onTrade(trade);
            if (bars === undefined) return builder.rejectionOf(trade) ?? { reason: 'invalid', details: 'rejected by the trade-bar builder' };
            if (out) for (const bar of bars) produced.push({ topic: minuteTopic, key: bar.symbol, value: encodeAggregate!(bar), partition });
            // A trade folded into an open minute is applied; one for a minute already closed is dropped.
            core.lastSkip = builder.lateTrades > late ? { reason: 'late', behindMs: builder.watermarkMs - trade.sipTimestampMs } : undefined;
            return core.lastSkip ? 'skipped' : 'applied';
          } catch (error) {
            return coreFailure(error);
          } finally {
            out?.push(...produced);
          }
        },
        snapshot: () => builder.snapshot(),
      };
      return core;
    }
    const engine = state ? PatternEngine.restore(state, engineOptions) : new PatternEngine(engineOptions);
    const events: PatternEventRecord[] = [];
    const core: PartitionCore = {
      lastSkip: undefined,
      fold: (value, headers, offset, out) => {
        events.length = 0;
        const bar = value as BarInput;
        let outcome: BarOutcome | FoldRejection;
        try {
          outcome = engine.onBar(bar, { topic: inputTopic, partition, offset }, isBroadcastCopy(headers), events);
        } catch (error) {
          outcome = coreFailure(error);
        }
        // Events of a bar that threw midway are kept: they record changes the engine made and keeps (expiries,
        // detections), and the engine is deterministic, so a replay makes them (and the throw) again.
        if (out) {
          for (const event of events) {
            try {
              out.push({ topic: patternsTopic, key: event.symbol, value: encodePattern(event), partition: partition % patternsPartitions });
            } catch (error) {
              outcome = coreFailure(error);
            }
          }
        }
        if (typeof outcome !== 'string') {
          core.lastSkip = undefined;
          return outcome;
        }
        core.lastSkip =
          outcome === 'duplicate' ? { reason: 'older-than-clock', behindMs: engine.clockMs - bar.windowStartMs } : outcome === 'outside-session' ? { reason: 'outside-session' } : undefined;
        if (outcome === 'invalid') return engine.rejectionOf(bar) ?? { reason: 'invalid', details: 'rejected by the pattern engine' };
        return outcome === 'applied' ? 'applied' : 'skipped';
      },
      snapshot: () => engine.snapshot(),
    };
    return core;
  }

  /** A record that made a core throw (a bug, or input no check foresaw): dead-lettered, and the partition moves on. */
  function coreFailure(error: unknown): FoldRejection {
    return { reason: 'engine-error', details: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }

  async function openTask(inputTopic: string, partition: number): Promise<PartitionTask> {
    // Connecting the transactional producer first fences a previous owner of this partition.
    const producer = kafka.producer({
      transactionalId: `${options.groupId}.${inputTopic}.${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const [committed] = await admin.fetchOffsets({ groupId: options.groupId, topics: [inputTopic] });
    const committedOffset = Number(committed?.partitions.find((entry) => entry.partition === partition)?.offset ?? -1);
    const bounds = (await admin.fetchTopicOffsets(inputTopic)).find((entry) => entry.partition === partition)!;
    const low = Number(bounds.low);
    const resumeAt = committedOffset >= 0 ? committedOffset : low;
    await snapshotTail.caughtUp();
    const snapshot = snapshots.latest(snapshotKey(inputTopic, partition));
    let core: PartitionCore | undefined;
    let start = low;
    if (snapshot && snapshot.engineVersion === ENGINE_VERSION && snapshot.nextOffset <= resumeAt && snapshot.nextOffset >= low) {
      try {
        core = createCore(inputTopic, partition, snapshot.state);
        start = snapshot.nextOffset;
      } catch (error) {
        if (!(error instanceof SnapshotVersionError)) logger.warn({ err: error, inputTopic, partition }, 'snapshot unreadable; rebuilding from the log');
      }
    }
    core ??= createCore(inputTopic, partition, undefined);
    failedSince = undefined;
    logger.info({ inputTopic, partition, committed: committedOffset, snapshotAt: snapshot?.nextOffset ?? null, replayFrom: start, resumeAt }, 'partition opened');
    return { topic: inputTopic, partition, producer, core, nextOffset: start, replayUntil: resumeAt, seekTo: start, seekAttempts: 0, gapSeekFrom: -1, recordsSinceSnapshot: 0, snapshotOffset: start };
  }

  async function closeTask(key: string): Promise<void> {
    const task = tasks.get(key);
    if (!task) return;
    tasks.delete(key);
    await task.producer.disconnect().catch((error: unknown) => logger.warn({ err: error, key }, 'producer disconnect failed'));
  }

  function deadLetter(reason: string, details: string | null, raw: Buffer | null, inputTopic: string, partition: number, offset: number): OutputMessage {
    return {
      topic: deadLetterTopic,
      key: inputTopic,
      partition: 0,
      value: encodeDeadLetter({
        stage: 'processors',
        source: inputTopic,
        reason,
        details,
        rawPayload: raw ?? Buffer.alloc(0),
        sourceTopic: inputTopic,
        sourcePartition: partition,
        sourceOffset: offset,
        receivedAtMs: Date.now(),
      }),
    };
  }

  /** Produces `out`, maybe a snapshot, and the offsets up to `nextOffset` in one transaction. */
  async function commit(task: PartitionTask, out: OutputMessage[], nextOffset: number, forceSnapshot: boolean): Promise<void> {
    const wantSnapshot = forceSnapshot || task.recordsSinceSnapshot >= snapshotEvery;
    const snapshotMessages: OutputMessage[] = [];
    if (wantSnapshot) {
      const state = task.core.snapshot();
      metrics.snapshotBytes.set({ topic: task.topic, partition: String(task.partition) }, state.length);
      // Large states go out as several records (chunks), each in its own produce request.
      for (const chunk of splitSnapshot(snapshotKey(task.topic, task.partition), state, snapshotMaxBytes)) {
        snapshotMessages.push({
          topic: snapshotsTopic,
          key: chunk.key,
          partition: 0,
          value: encodeSnapshot({ group: options.groupId, inputTopic: task.topic, partition: task.partition, nextOffset, engineVersion: ENGINE_VERSION, state: chunk.state, createdAtMs: Date.now() }),
        });
      }
      task.recordsSinceSnapshot = 0;
      task.snapshotOffset = nextOffset;
    }
    const transaction = await task.producer.transaction();
    try {
      const byTopic = new Map<string, { key: string; value: Buffer; partition: number }[]>();
      for (const message of out) {
        let list = byTopic.get(message.topic);
        if (!list) byTopic.set(message.topic, (list = []));
        list.push({ key: message.key, value: message.value, partition: message.partition });
      }
      if (byTopic.size > 0) await transaction.sendBatch({ topicMessages: [...byTopic].map(([name, list]) => ({ topic: name, messages: list })) });
      for (const chunk of snapshotMessages) {
        await transaction.send({ topic: chunk.topic, messages: [{ key: chunk.key, value: chunk.value, partition: chunk.partition }] });
      }
      await retryConcurrentTransactions(() =>
        transaction.sendOffsets({ consumerGroupId: options.groupId, topics: [{ topic: task.topic, partitions: [{ partition: task.partition, offset: String(nextOffset) }] }] }),
      );
      await transaction.commit();
      metrics.transactions.inc({ result: 'committed' });
      if (wantSnapshot) metrics.snapshots.inc({ result: 'written' });
      for (const message of out) metrics.events.inc({ topic: message.topic });
    } catch (error) {
      metrics.transactions.inc({ result: 'aborted' });
      await transaction.abort().catch(() => {});
      throw error;
    }
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const key = `${batch.topic}:${batch.partition}`;
    let task = tasks.get(key);
    if (!task) {
      task = await openTask(batch.topic, batch.partition);
      tasks.set(key, task);
      metrics.assigned.set(tasks.size);
    }
    const fetchedOffset = Number((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    if (task.seekTo !== undefined) {
      if (fetchedOffset !== task.seekTo) {
        // Batches fetched before the seek took effect arrive with the old position: seek (again) and skip them.
        task.seekAttempts += 1;
        const low = task.seekAttempts > 3 ? Number((await admin.fetchTopicOffsets(batch.topic)).find((entry) => entry.partition === batch.partition)!.low) : 0;
        if (low <= task.seekTo || fetchedOffset !== low) {
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(task.seekTo) });
          return;
        }
        // Retention removed the replay start meanwhile: fold from what is left (logged).
        logger.warn({ topic: batch.topic, partition: batch.partition, wanted: task.seekTo, got: fetchedOffset }, 'replay start no longer in the log');
        task.nextOffset = fetchedOffset;
      }
      task.seekTo = undefined;
    }
    // While replaying, the consumer may be put back on the committed offset (a rebalance that kept this
    // partition): records between the engine's position and there were never folded. Seek back once; a
    // second jump to the same place means the gap held only transaction markers, which kafkajs skips itself.
    if (fetchedOffset > task.nextOffset && task.nextOffset < task.replayUntil && task.gapSeekFrom !== fetchedOffset) {
      task.gapSeekFrom = fetchedOffset;
      consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(task.nextOffset) });
      return;
    }
    const out: OutputMessage[] = [];
    let folded = 0;
    let interrupted = false;
    const batchAtMs = Date.now();
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) {
          interrupted = true;
          break;
        }
        const offset = Number(message.offset);
        if (offset < task.nextOffset) continue;
        const replaying = offset < task.replayUntil;
        let value: unknown;
        try {
          if (!message.value) throw new Error('empty value');
          value = codec.decodeCached(message.value) ?? (await codec.decode(message.value));
        } catch (error) {
          metrics.records.inc({ topic: batch.topic, outcome: 'undecodable' });
          if (!replaying) out.push(deadLetter('undecodable', error instanceof Error ? error.message : String(error), message.value, batch.topic, batch.partition, offset));
          task.nextOffset = offset + 1;
          continue;
        }
        const outcome = task.core.fold(value, message.headers, offset, replaying ? undefined : out);
        metrics.records.inc({ topic: batch.topic, outcome: replaying ? 'replayed' : typeof outcome === 'string' ? outcome : outcome.reason });
        if (!replaying && typeof outcome === 'string') reportSkipping(batch.topic, skipDetector(batch.topic).observe(batchAtMs, task.core.lastSkip));
        if (typeof outcome !== 'string' && !replaying) out.push(deadLetter(outcome.reason, outcome.details, message.value, batch.topic, batch.partition, offset));
        task.nextOffset = offset + 1;
        task.recordsSinceSnapshot += 1;
        folded += 1;
        if (!replaying && folded >= maxPerTransaction) {
          await commit(task, out, task.nextOffset, false);
          out.length = 0;
          folded = 0;
          resolveOffset(message.offset);
          await heartbeat();
        }
      }
      // Trailing control records (transaction markers) belong to the batch: commit past them.
      if (!interrupted) task.nextOffset = Math.max(task.nextOffset, Number(batch.lastOffset()) + 1);
      if (task.nextOffset > task.replayUntil && (out.length > 0 || folded > 0 || !interrupted)) {
        await commit(task, out, task.nextOffset, false);
      }
      if (task.nextOffset > 0) resolveOffset(String(task.nextOffset - 1));
      await heartbeat();
    } catch (error) {
      // The engine ran ahead of what was committed: drop it, so the partition reopens from snapshot + replay.
      logger.error({ err: error, topic: batch.topic, partition: batch.partition }, 'batch failed; partition will be reopened');
      failedSince ??= Date.now();
      await closeTask(key);
      metrics.assigned.set(tasks.size);
      throw error;
    }
  }

  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: 1_048_576,
    // Data returns at once; a shorter long-poll only shortens stop().
    maxWaitTimeInMs: 1_000,
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    joined = true;
    const assigned = event.payload.memberAssignment as Record<string, number[]>;
    const keep = new Set(Object.entries(assigned).flatMap(([name, partitions]) => partitions.map((partition) => `${name}:${partition}`)));
    assignment = [...keep].sort();
    for (const key of [...tasks.keys()]) if (!keep.has(key)) void closeTask(key);
    metrics.assigned.set(tasks.size);
    logger.info({ assignment: assigned }, 'joined the processor group');
  });
  consumer.on(consumer.events.CRASH, (event) => {
    logger.error({ err: event.payload.error, restart: event.payload.restart }, 'processor consumer crashed');
    for (const key of [...tasks.keys()]) void closeTask(key);
    if (!event.payload.restart && !stopping) options.onStall?.('the consumer crashed and kafkajs will not restart it');
  });
  // A failed batch normally reopens its partition at the next fetch; after a broker restart the reopen
  // can wait forever on a side-table tail whose consumer is being restarted. Nothing then fails loudly,
  // so a watchdog hands the process back to its supervisor.
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const watchdog = setInterval(() => {
    if (failedSince !== undefined && !stopping && Date.now() - failedSince > stallTimeoutMs) {
      logger.fatal({ failedForMs: Date.now() - failedSince }, 'no partition reopened after a failed batch');
      failedSince = undefined;
      options.onStall?.('no partition reopened after a failed batch');
    }
  }, Math.min(5_000, stallTimeoutMs));
  watchdog.unref();
  await consumer.connect();
  const inputTopics = inputs.map(topic);
  if (options.tradeBars) inputTopics.push(tradesTopic);
  await consumer.subscribe({ topics: inputTopics, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch: processBatch });
  logger.info({ inputs: inputTopics, group: options.groupId }, 'processor started');

  return {
    ready: () => joined && !stopping,
    assigned: () => assignment,
    skipping: () => [...skipDetectors.values()].map((detector) => detector.status(Date.now())).filter((status) => status.skipping),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(watchdog);
      clearInterval(skipTimer);
      // The side-table tails stop in parallel: each waits out its fetch long-poll.
      const tailsStopped = Promise.all(tails.map((tail) => tail.stop()));
      await consumer.stop();
      // A final snapshot per partition (with its offsets) makes the next start replay nothing.
      for (const task of tasks.values()) {
        if (task.nextOffset > task.snapshotOffset && task.seekTo === undefined && task.nextOffset >= task.replayUntil) {
          await commit(task, [], task.nextOffset, true).catch((error: unknown) => logger.warn({ err: error, topic: task.topic, partition: task.partition }, 'final snapshot failed'));
        }
      }
      await consumer.disconnect();
      for (const key of [...tasks.keys()]) await closeTask(key);
      await tailsStopped;
      await admin.disconnect();
      logger.info('processor stopped');
    },
  };
}
