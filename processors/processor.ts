import { hostname } from 'node:os';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import {
  AvroCodec,
  connectFencing,
  createKafka,
  partitionKey,
  topicName,
  type Encoder,
  type Logger,
  type Registry,
  type TopicKey,
} from '../platform/index.js';
import type { DeadLetterRecord } from '../platform/records.js';
import type { SkipStatus } from '../platform/skip-detector.js';
import {
  ACTIVE_SLOTS_PER_SYMBOL,
  DEFAULT_MAX_SYMBOLS_PER_PARTITION,
  MAX_EMISSIONS_PER_ACTIVATION,
  SnapshotVersionError,
  type EngineOptions,
  type PatternEventRecord,
} from './engine.js';
import { deadLetterMessage, type DeadLetterSink } from './dead-letters.js';
import { createPatternCore, createTradeBarCore, type OutputMessage, type PartitionCore } from './partition-core.js';
import { createProcessorMetrics } from './processor-metrics.js';
import { startSideTables, type SideTableLimits, type SideTables } from './side-tables.js';
import { trackStructures, type TrackedStructure } from '../platform/tracked-structures.js';
import { SkipReporter } from './skip-reporting.js';
import { snapshotKey, snapshotMessages, usableSnapshot, type SnapshotValue, type SnapshotWriter } from './snapshots.js';
import type { TradeBar } from './trade-bars.js';
import { commitTransaction } from './transactions.js';

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
  /** Caps of the fundamentals and native-bars tables (defaults: see side-tables.ts). */
  readonly sideTableLimits?: SideTableLimits;
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

const SUPPORTED_INPUTS: readonly TopicKey[] = ['minuteAggregates', 'dailyAggregates'];

/**
 * The streaming shell: a consumer group over the aggregate topics; each input partition has its own
 * engine and its own transactional producer (transactionalId = group.topic.partition, so a new owner
 * fences the old one after a rebalance). Every batch is one consume-transform-produce transaction:
 * pattern events, dead letters, an occasional state snapshot and the input offsets commit together.
 */
export async function startProcessor(options: ProcessorOptions): Promise<ProcessorHandle> {
  const logger = options.logger;
  const metrics = createProcessorMetrics(options.metrics);
  const inputs = [...options.inputs];
  for (const input of inputs) {
    if (!SUPPORTED_INPUTS.includes(input)) throw new Error(`unsupported processor input ${input}; use ${SUPPORTED_INPUTS.join(' or ')}`);
  }
  const clientId = options.clientId ?? `tickflow-processor-${hostname()}-${process.pid}`;
  const kafka: Kafka = createKafka({
    brokers: options.brokers,
    clientId,
    logger,
    ...(options.metrics ? { registry: options.metrics } : {}),
  });
  const codec = new AvroCodec(options.registryUrl, options.topicPrefix);
  const topic = (key: TopicKey) => topicName(key, options.topicPrefix);
  const patternsTopic = topic('patterns');
  const minuteTopic = topic('minuteAggregates');
  const tradesTopic = topic('trades');
  const encodePattern = await codec.encoderFor<PatternEventRecord>('patterns');
  const snapshotWriter: SnapshotWriter = {
    groupId: options.groupId,
    topic: topic('processorSnapshots'),
    maxBytes: options.snapshotMaxBytes ?? 900_000,
    encode: await codec.encoderFor<SnapshotValue>('processorSnapshots'),
  };
  const deadLetters: DeadLetterSink = { topic: topic('deadLetters'), encode: await codec.encoderFor<DeadLetterRecord>('deadLetters') };
  const encodeAggregate: Encoder<TradeBar> | undefined = options.tradeBars
    ? await codec.encoderFor<TradeBar>('minuteAggregates')
    : undefined;
  const snapshotEvery = options.snapshotEveryRecords ?? 50_000;
  const maxPerTransaction = options.maxRecordsPerTransaction ?? 5_000;

  const admin = kafka.admin();
  await admin.connect();
  const patternsPartitions = (await admin.fetchTopicMetadata({ topics: [patternsTopic] })).topics[0]!.partitions.length;

  const sideTables = await startSideTables({
    kafka,
    codec,
    logger,
    groupId: options.groupId,
    fundamentalsTopic: (options.useFundamentals ?? true) ? topic('fundamentals') : undefined,
    minuteTopic: options.tradeBars ? minuteTopic : undefined,
    snapshotsTopic: snapshotWriter.topic,
    ...(options.sideTableLimits ? { limits: options.sideTableLimits } : {}),
  });

  const engineOptions: EngineOptions = {
    ...options.engine,
    fundamentals: sideTables.fundamentals,
    ...(options.maxEventTimeSkewMs === undefined ? {} : { maxEventTimeSkewMs: options.maxEventTimeSkewMs }),
  };
  const tasks = new Map<string, PartitionTask>();
  if (options.metrics) trackStructures(options.metrics, trackedStructures(tasks, sideTables, engineOptions));
  let joined = false;
  let assignment: string[] = [];
  let stopping = false;
  /** When a batch failed and no partition has reopened since (the stall watchdog's clock). */
  let failedSince: number | undefined;

  const skips = new SkipReporter(logger);
  const skipTimer = setInterval(() => skips.evaluate(Date.now()), 5_000);
  skipTimer.unref();

  function createCore(inputTopic: string, partition: number, state: Buffer | undefined): PartitionCore {
    if (inputTopic === tradesTopic) {
      return createTradeBarCore(
        {
          partition,
          latenessMs: options.tradeBarLatenessMs,
          nativeBars: sideTables.nativeBars,
          maxEventTimeSkewMs: options.maxEventTimeSkewMs,
          minuteTopic,
          encodeAggregate: encodeAggregate!,
        },
        state,
      );
    }
    return createPatternCore({ inputTopic, partition, engine: engineOptions, patternsTopic, patternsPartitions, encodePattern }, state);
  }

  async function openTask(inputTopic: string, partition: number): Promise<PartitionTask> {
    // Initialising the transactional id first fences a previous owner of this partition (its open transaction is
    // aborted) before the committed offset is read. kafkajs's connect() alone would leave that to the first transaction.
    const producer = kafka.producer({
      transactionalId: `${options.groupId}.${inputTopic}.${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // What exactly-once needs (and kafkajs checks for, else it warns that EoS may break): the idempotent producer
      // retries retriable errors without a count limit, as the Java client's retries=MAX_INT; a broker that answers
      // nothing for long is the stall watchdog's to end (exit 75), not a retry count's.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await connectFencing(producer);
    const [committed] = await admin.fetchOffsets({ groupId: options.groupId, topics: [inputTopic] });
    const committedOffset = Number(committed?.partitions.find((entry) => entry.partition === partition)?.offset ?? -1);
    const bounds = (await admin.fetchTopicOffsets(inputTopic)).find((entry) => entry.partition === partition)!;
    const low = Number(bounds.low);
    const resumeAt = committedOffset >= 0 ? committedOffset : low;
    await sideTables.snapshotsCaughtUp();
    const snapshot = sideTables.snapshots.latest(snapshotKey(options.groupId, inputTopic, partition));
    let core: PartitionCore | undefined;
    let start = low;
    if (usableSnapshot(snapshot, resumeAt, low)) {
      try {
        core = createCore(inputTopic, partition, snapshot.state);
        start = snapshot.nextOffset;
      } catch (error) {
        if (!(error instanceof SnapshotVersionError))
          logger.warn({ err: error, inputTopic, partition }, 'snapshot unreadable; rebuilding from the log');
      }
    }
    core ??= createCore(inputTopic, partition, undefined);
    failedSince = undefined;
    logger.info(
      { inputTopic, partition, committed: committedOffset, snapshotAt: snapshot?.nextOffset ?? null, replayFrom: start, resumeAt },
      'partition opened',
    );
    return {
      topic: inputTopic,
      partition,
      producer,
      core,
      nextOffset: start,
      replayUntil: resumeAt,
      seekTo: start,
      seekAttempts: 0,
      gapSeekFrom: -1,
      recordsSinceSnapshot: 0,
      snapshotOffset: start,
    };
  }

  async function closeTask(key: string): Promise<void> {
    const task = tasks.get(key);
    if (!task) return;
    tasks.delete(key);
    await task.producer.disconnect().catch((error: unknown) => logger.warn({ err: error, key }, 'producer disconnect failed'));
  }

  /** Produces `out`, maybe a snapshot, and the offsets up to `nextOffset` in one transaction. */
  async function commit(task: PartitionTask, out: OutputMessage[], nextOffset: number, forceSnapshot: boolean): Promise<void> {
    const wantSnapshot = forceSnapshot || task.recordsSinceSnapshot >= snapshotEvery;
    let snapshotChunks: OutputMessage[] = [];
    if (wantSnapshot) {
      const state = task.core.snapshot();
      metrics.snapshotBytes.set({ topic: task.topic, partition: String(task.partition) }, state.length);
      snapshotChunks = snapshotMessages(snapshotWriter, task.topic, task.partition, nextOffset, state, Date.now());
      task.recordsSinceSnapshot = 0;
      task.snapshotOffset = nextOffset;
    }
    const transaction = await task.producer.transaction();
    try {
      await commitTransaction(
        transaction,
        { groupId: options.groupId, topic: task.topic, partition: task.partition, nextOffset },
        out,
        snapshotChunks,
      );
    } catch (error) {
      metrics.transactions.inc({ result: 'aborted' });
      throw error;
    }
    metrics.transactions.inc({ result: 'committed' });
    if (wantSnapshot) metrics.snapshots.inc({ result: 'written' });
    for (const message of out) metrics.events.inc({ topic: message.topic });
  }

  async function processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const key = partitionKey(batch.topic, batch.partition);
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
        const low =
          task.seekAttempts > 3
            ? Number((await admin.fetchTopicOffsets(batch.topic)).find((entry) => entry.partition === batch.partition)!.low)
            : 0;
        if (low <= task.seekTo || fetchedOffset !== low) {
          consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(task.seekTo) });
          return;
        }
        // Retention removed the replay start meanwhile: fold from what is left (logged).
        logger.warn(
          { topic: batch.topic, partition: batch.partition, wanted: task.seekTo, got: fetchedOffset },
          'replay start no longer in the log',
        );
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
          if (!replaying) {
            out.push(
              deadLetterMessage(
                deadLetters,
                'undecodable',
                error instanceof Error ? error.message : String(error),
                message.value,
                batch.topic,
                batch.partition,
                offset,
                Date.now(),
              ),
            );
          }
          task.nextOffset = offset + 1;
          continue;
        }
        const outcome = task.core.fold(value, message.headers, offset, replaying ? undefined : out);
        metrics.records.inc({
          topic: batch.topic,
          outcome: replaying ? 'replayed' : typeof outcome === 'string' ? outcome : outcome.reason,
        });
        if (!replaying && typeof outcome === 'string') skips.observe(batch.topic, batchAtMs, task.core.lastSkip);
        if (typeof outcome !== 'string' && !replaying) {
          out.push(
            deadLetterMessage(
              deadLetters,
              outcome.reason,
              outcome.details,
              message.value,
              batch.topic,
              batch.partition,
              offset,
              Date.now(),
            ),
          );
        }
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
  const watchdog = setInterval(
    () => {
      if (failedSince !== undefined && !stopping && Date.now() - failedSince > stallTimeoutMs) {
        logger.fatal({ failedForMs: Date.now() - failedSince }, 'no partition reopened after a failed batch');
        failedSince = undefined;
        options.onStall?.('no partition reopened after a failed batch');
      }
    },
    Math.min(5_000, stallTimeoutMs),
  );
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
    skipping: () => skips.skipping(Date.now()),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(watchdog);
      clearInterval(skipTimer);
      // The side-table tails stop in parallel: each waits out its fetch long-poll.
      const tailsStopped = sideTables.stop();
      await consumer.stop();
      // A final snapshot per partition (with its offsets) makes the next start replay nothing. Each partition has its
      // own transactional producer, so they commit in parallel: one after another outlasted the stop's time limit.
      await Promise.all(
        [...tasks.values()]
          .filter((task) => task.nextOffset > task.snapshotOffset && task.seekTo === undefined && task.nextOffset >= task.replayUntil)
          .map((task) =>
            commit(task, [], task.nextOffset, true).catch((error: unknown) =>
              logger.warn({ err: error, topic: task.topic, partition: task.partition }, 'final snapshot failed'),
            ),
          ),
      );
      await consumer.disconnect();
      for (const key of [...tasks.keys()]) await closeTask(key);
      await tailsStopped;
      await admin.disconnect();
      logger.info('processor stopped');
    },
  };
}

/** The processors' growing state against its caps, for /metrics (RELIABILITY.md, memory). */
function trackedStructures(tasks: ReadonlyMap<string, PartitionTask>, sideTables: SideTables, engine: EngineOptions): TrackedStructure[] {
  const engines = () =>
    [...tasks.values()].flatMap((task) => {
      const held = task.core.held();
      return held.kind === 'engine' ? [held] : [];
    });
  const tradeBars = () =>
    [...tasks.values()].flatMap((task) => {
      const held = task.core.held();
      return held.kind === 'trade-bars' ? [held] : [];
    });
  const symbolCap = () => engines().length * (engine.maxSymbols ?? DEFAULT_MAX_SYMBOLS_PER_PARTITION);
  return [
    {
      name: 'processors.engine.symbols',
      entries: () => engines().reduce((sum, held) => sum + held.symbols, 0),
      cap: symbolCap,
    },
    // Bounded by the symbols (one slot per tier, pattern and direction), not by time: a pattern lives until it expires.
    {
      name: 'processors.engine.active-patterns',
      entries: () => engines().reduce((sum, held) => sum + held.activePatterns, 0),
      cap: () => symbolCap() * ACTIVE_SLOTS_PER_SYMBOL,
    },
    {
      name: 'processors.engine.expiry-queue',
      entries: () => engines().reduce((sum, held) => sum + held.expiryQueue, 0),
      cap: () => symbolCap() * ACTIVE_SLOTS_PER_SYMBOL * MAX_EMISSIONS_PER_ACTIVATION,
    },
    // Open minutes and minutes closed within the lateness: bounded by the symbols trading in about a minute, not by a cap.
    {
      name: 'processors.trade-bars.symbols',
      entries: () => tradeBars().reduce((sum, held) => sum + held.symbols, 0),
      cap: Number.POSITIVE_INFINITY,
    },
    {
      name: 'processors.fundamentals.symbols',
      entries: () => sideTables.fundamentals.symbolCount,
      cap: sideTables.fundamentals.maxSymbols,
    },
    {
      name: 'processors.fundamentals.records',
      entries: () => sideTables.fundamentals.recordCount,
      cap: sideTables.fundamentals.maxSymbols * sideTables.fundamentals.maxPerSymbol,
    },
    { name: 'processors.native-bars.symbols', entries: () => sideTables.nativeBars.size, cap: sideTables.nativeBars.maxSymbols },
  ];
}
