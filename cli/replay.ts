import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import cliProgress from 'cli-progress';
import {
  AvroCodec,
  createKafka,
  createLogger,
  loadPlatformConfig,
  TOPICS,
  topicName,
  type Kafka,
  type TopicKey,
} from '../platform/index.js';
import {
  CsvWriter,
  matchesSymbols,
  parseBound,
  planReplay,
  toJsonLine,
  totalRecords,
  type Bound,
  type PartitionRange,
  type ReplayRecord,
} from './replay-plan.js';

export interface ReplayOptions {
  readonly topic: string;
  readonly from: string;
  readonly to?: string;
  readonly symbols?: readonly string[];
  readonly format: 'jsonl' | 'csv';
  /** A file path; stdout when absent. */
  readonly out?: string;
  /** Show a progress bar (on stderr). */
  readonly progress?: boolean;
}

/** Accepts a catalog key (`patterns`) or a topic name, with or without TOPIC_PREFIX. */
export function resolveTopic(name: string, prefix: string): string {
  if (name in TOPICS) return topicName(name as TopicKey, prefix);
  const byCatalogName = (Object.keys(TOPICS) as TopicKey[]).find((key) => TOPICS[key].name === name);
  return byCatalogName ? topicName(byCatalogName, prefix) : name;
}

async function timeOffsets(kafka: Kafka, topic: string, bound: Bound | undefined): Promise<Map<number, bigint> | undefined> {
  if (bound?.kind !== 'time') return undefined;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, bound.ms);
    return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Streams a topic's records, decoded through the registry, as JSON lines or CSV. Reads each partition
 * from its start to its end bound and stops; no consumer-group offsets are committed.
 */
export async function replay(
  options: ReplayOptions,
  output: NodeJS.WritableStream = process.stdout,
): Promise<{ records: number; ranges: PartitionRange[] }> {
  const config = loadPlatformConfig();
  const logger = createLogger('replay', { level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL });
  const topic = resolveTopic(options.topic, config.TOPIC_PREFIX);
  const from = parseBound(options.from, '--from');
  const to = options.to === undefined ? undefined : parseBound(options.to, '--to');
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-replay`, logger });
  const codec = new AvroCodec(config.SCHEMA_REGISTRY_URL, config.TOPIC_PREFIX);
  const symbols = options.symbols && options.symbols.length > 0 ? new Set(options.symbols) : undefined;

  const admin = kafka.admin();
  await admin.connect();
  let watermarks;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    watermarks = offsets.map((entry) => ({ partition: entry.partition, low: BigInt(entry.low), high: BigInt(entry.high) }));
  } finally {
    await admin.disconnect();
  }
  const ranges = planReplay(watermarks, from, to, { from: await timeOffsets(kafka, topic, from), to: await timeOffsets(kafka, topic, to) });
  const expected = totalRecords(ranges);

  const file: WriteStream | undefined = options.out ? createWriteStream(options.out) : undefined;
  const sink = file ?? output;
  const write = async (line: string) => {
    if (!sink.write(`${line}\n`)) await once(sink, 'drain');
  };
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: ' {bar} {percentage}% | {value}/{total} records | {eta_formatted} left' },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(expected, 0);

  const csv = options.format === 'csv' ? new CsvWriter() : undefined;
  let written = 0;
  let scanned = 0;
  const pending = new Map(ranges.filter((range) => range.end > range.start).map((range) => [range.partition, range]));
  if (pending.size > 0) {
    const consumer = kafka.consumer({ groupId: `${config.KAFKA_CLIENT_ID}-replay-${process.pid}-${Date.now()}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish!: () => void;
    let fail!: (error: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const started = new Set<number>();
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const range of ranges) {
        if (!pending.has(range.partition)) consumer.pause([{ topic, partitions: [range.partition] }]);
        else if (!started.has(range.partition)) {
          started.add(range.partition);
          consumer.seek({ topic, partition: range.partition, offset: range.start.toString() });
        }
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        const range = pending.get(batch.partition);
        if (!range) return;
        try {
          for (const message of batch.messages) {
            const offset = BigInt(message.offset);
            if (offset < range.start) continue;
            if (offset >= range.end) break;
            scanned += 1;
            const record: ReplayRecord = {
              topic,
              partition: batch.partition,
              offset: message.offset,
              timestamp: new Date(Number(message.timestamp)).toISOString(),
              key: message.key ? message.key.toString() : null,
              value: message.value ? await codec.decode(message.value) : null,
            };
            resolveOffset(message.offset);
            if (!matchesSymbols(record, symbols)) continue;
            if (csv && written === 0) await write(csv.header(record));
            await write(csv ? csv.row(record) : toJsonLine(record));
            written += 1;
          }
          bar?.update(scanned);
          // Transaction markers and aborted records take offsets too, so the end is judged by the batch's last offset.
          if (BigInt(batch.lastOffset()) + 1n >= range.end) {
            pending.delete(batch.partition);
            consumer.pause([{ topic, partitions: [batch.partition] }]);
            if (pending.size === 0) finish();
          }
        } catch (error) {
          fail(error);
        }
      },
    });
    try {
      await finished;
    } finally {
      await consumer.disconnect();
    }
  }
  bar?.update(expected);
  bar?.stop();
  if (file) {
    file.end();
    await once(file, 'finish');
  }
  return { records: written, ranges };
}
