import { randomBytes } from 'node:crypto';
import type { AvroCodec, Kafka } from '../platform/index.js';

/** One record read back from a topic, decoded. */
export interface ReadRecord<T> {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: T;
  readonly headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning to its end offsets as they are when called, with a read_committed
 * consumer of a fresh group (an independent reader: it shares nothing with the stages). Positions come
 * from kafkajs's END_BATCH_PROCESS events, which also cover batches holding only transaction markers, so
 * a partition ending in a commit marker is still recognised as read to its end.
 */
export async function readTopic<T>(
  kafka: Kafka,
  codec: AvroCodec,
  topic: string,
  options: { timeoutMs?: number; from?: ReadonlyMap<number, number> } = {},
): Promise<ReadRecord<T>[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  try {
    for (const entry of await admin.fetchTopicOffsets(topic)) ends.set(entry.partition, Number(entry.high));
  } finally {
    await admin.disconnect();
  }
  const records: ReadRecord<T>[] = [];
  const positions = new Map<number, number>([...ends.keys()].map((partition) => [partition, 0]));
  const done = () => [...ends].every(([partition, end]) => (positions.get(partition) ?? 0) >= end);
  if (done()) return records;
  const consumer = kafka.consumer({
    groupId: `chaos-reader-${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const next = Number(event.payload.lastOffset) + 1;
    if (next > (positions.get(event.payload.partition) ?? 0)) positions.set(event.payload.partition, next);
    if (done()) finish();
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset >= (ends.get(batch.partition) ?? 0) || offset < (options.from?.get(batch.partition) ?? 0)) continue;
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) if (value !== undefined) headers[name] = String(value);
          records.push({
            partition: batch.partition,
            offset,
            key: message.key?.toString('utf8') ?? '',
            value: await codec.decode<T>(message.value!),
            headers,
          });
        }
      },
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `reading ${topic}: not at its end after ${timeoutMs} ms (positions ${JSON.stringify([...positions])}, ends ${JSON.stringify([...ends])})`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/** Values seen more than once under `id`, with their counts. */
export function duplicatesOf<T>(values: readonly T[], id: (value: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(id(value), (counts.get(id(value)) ?? 0) + 1);
  return new Map([...counts].filter(([, count]) => count > 1));
}
