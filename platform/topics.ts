import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * How long the pipeline keeps each kind of history: one setting per kind, read by the topic that carries it
 * (`retention.ms`, applied by `topics apply`) and by the tables fed from that topic (TimescaleDB retention policies,
 * the plain path's dropped partitions; `store/retention.ts`). Log and tables keep the same span, so every row the
 * API serves can be replayed from the log. Daily bars and fundamentals are kept forever in both.
 */
export const HISTORY_RETENTION_MS = {
  /** bars_1m and its 5m/15m/1h aggregates: two years of intraday charts. */
  minuteBars: 730 * DAY_MS,
  /** pattern_events and its hourly counts. */
  patternEvents: 730 * DAY_MS,
} as const;

export interface TopicSpec {
  /** Topic name without the deployment's TOPIC_PREFIX. */
  readonly name: string;
  /** Avro schema file in schemas/. */
  readonly schemaFile: string;
  /**
   * 'symbol': keyed by symbol and co-partitioned with every other such topic (KAFKA_PARTITIONS partitions, the default
   * murmur2 partitioner), so a symbol is in the same partition number everywhere; else a fixed count.
   */
  readonly partitions: 'symbol' | number;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** -1 = keep forever. A topic that feeds a table takes it from HISTORY_RETENTION_MS (the table keeps as long). */
  readonly retentionMs: number;
  /** What the (UTF-8 string) key holds. */
  readonly key: string;
  readonly description: string;
}

/**
 * Every topic of the pipeline. Keys are plain UTF-8 strings (readable by any Kafka tool); values are
 * Avro in the Confluent wire format, subject `<topic>-value` (TopicNameStrategy).
 * All market and pattern topics share one partition count (KAFKA_PARTITIONS) and the default (murmur2) partitioner,
 * so a symbol lands in the same partition number everywhere (co-partitioned).
 */
export const TOPICS = {
  trades: {
    name: 'market.trades.v1',
    schemaFile: 'trade.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: 7 * DAY_MS,
    key: 'symbol',
    description: 'Trades (Massive T), normalised',
  },
  quotes: {
    name: 'market.quotes.v1',
    schemaFile: 'quote.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: 3 * DAY_MS,
    key: 'symbol',
    description: 'NBBO quotes (Massive Q)',
  },
  secondAggregates: {
    name: 'market.aggs.second.v1',
    schemaFile: 'aggregate.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: 3 * DAY_MS,
    key: 'symbol',
    description: 'Second bars (Massive A)',
  },
  minuteAggregates: {
    name: 'market.aggs.minute.v1',
    schemaFile: 'aggregate.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: HISTORY_RETENTION_MS.minuteBars,
    key: 'symbol',
    description: 'Minute bars (Massive AM, REST and flat-file minute bars, bars built from trades)',
  },
  dailyAggregates: {
    name: 'market.aggs.day.v1',
    schemaFile: 'aggregate.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: -1,
    key: 'symbol',
    description: 'Daily bars (REST backfill, flat files)',
  },
  luld: {
    name: 'market.luld.v1',
    schemaFile: 'luld.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: 3 * DAY_MS,
    key: 'symbol',
    description: 'Limit up/limit down bands (Massive LULD), when enabled',
  },
  fmv: {
    name: 'market.fmv.v1',
    schemaFile: 'fmv.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: 3 * DAY_MS,
    key: 'symbol',
    description: 'Fair market value (Massive FMV), when enabled',
  },
  symbols: {
    name: 'reference.symbols.v1',
    schemaFile: 'symbol.avsc',
    partitions: 3,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    key: 'ticker',
    description: 'Ticker reference data, latest per ticker',
  },
  fundamentals: {
    name: 'reference.fundamentals.v1',
    schemaFile: 'fundamentals.avsc',
    partitions: 'symbol',
    // History, not compaction: the processors' overlay uses the record in force on each bar's date, so a replay matches.
    cleanupPolicy: 'delete',
    retentionMs: -1,
    key: 'symbol',
    description: 'Fundamentals per symbol and asOfDate (ratios, income statements), full history',
  },
  patterns: {
    name: 'patterns.events.v1',
    schemaFile: 'pattern-event.avsc',
    partitions: 'symbol',
    cleanupPolicy: 'delete',
    retentionMs: HISTORY_RETENTION_MS.patternEvents,
    key: 'symbol',
    description: 'Pattern events: detected, updated, expired',
  },
  deadLetters: {
    name: 'ops.deadletter.v1',
    schemaFile: 'dead-letter.avsc',
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY_MS,
    key: 'symbol or source',
    description: 'Input that could not be processed, with its raw payload and the reason',
  },
  processorSnapshots: {
    name: 'ops.processor-snapshots.v1',
    schemaFile: 'processor-snapshot.avsc',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    key: '<group>/<topic>/<partition>',
    description: 'Pattern-engine state snapshots with the input offsets they match',
  },
  ingestCheckpoints: {
    name: 'ops.ingest-checkpoints.v1',
    schemaFile: 'ingest-checkpoint.avsc',
    // One partition: its assignment in ingest's lease group is the lease of the active instance (ingest/lease.ts).
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: -1,
    key: '<job>/<symbol>',
    description: "Ingest's backfill progress (the next page per job and symbol), read back by whichever instance runs the job next",
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof TOPICS;

export const TOPIC_KEYS = Object.keys(TOPICS) as TopicKey[];

/** The deployed name of a topic: TOPIC_PREFIX + catalog name. */
export function topicName(key: TopicKey, prefix: string): string {
  return `${prefix}${TOPICS[key].name}`;
}

/** The partition count of a topic, given the deployment's count of the co-partitioned (symbol-keyed) topics. */
export function partitionCount(spec: TopicSpec, symbolPartitions: number): number {
  return spec.partitions === 'symbol' ? symbolPartitions : spec.partitions;
}

/**
 * The co-partitioning rule, checked before `topics apply` changes anything: every symbol-keyed topic must end with
 * the same partition count. Kafka can add partitions but never remove them, so an existing topic with more than
 * `symbolPartitions` breaks the rule (the keys of the others would land elsewhere). Returns the problems found.
 */
export function coPartitioningProblems(existing: ReadonlyMap<string, number>, prefix: string, symbolPartitions: number): string[] {
  const problems: string[] = [];
  for (const key of TOPIC_KEYS) {
    const spec: TopicSpec = TOPICS[key];
    if (spec.partitions !== 'symbol') continue;
    const current = existing.get(topicName(key, prefix));
    if (current !== undefined && current > symbolPartitions) {
      problems.push(
        `${topicName(key, prefix)} has ${current} partitions and KAFKA_PARTITIONS is ${symbolPartitions}: partitions cannot be removed, and the symbol-keyed topics must all have the same count (set KAFKA_PARTITIONS=${current} or more)`,
      );
    }
  }
  return problems;
}

/** The registry subject of a topic's values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

const schemasDir = fileURLToPath(new URL('../schemas/', import.meta.url));

/** The Avro schema text of a topic, from schemas/. */
export function schemaText(key: TopicKey): string {
  return readFileSync(`${schemasDir}${TOPICS[key].schemaFile}`, 'utf8');
}

/** Kafka topic configs derived from a spec. */
export function topicConfigEntries(spec: TopicSpec): { name: string; value: string }[] {
  const entries = [
    { name: 'cleanup.policy', value: spec.cleanupPolicy },
    { name: 'retention.ms', value: String(spec.retentionMs) },
  ];
  if (spec.cleanupPolicy === 'compact') {
    entries.push({ name: 'min.cleanable.dirty.ratio', value: '0.1' }, { name: 'segment.ms', value: String(DAY_MS) });
  }
  return entries;
}

/** One topic-partition as a map key (offsets, positions and high watermarks per partition). */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
