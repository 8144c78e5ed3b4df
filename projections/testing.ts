/** Helpers for the projections' integration tests and benchmarks: produce values, wait for offsets. */
import type { IHeaders, Kafka } from 'kafkajs';
import type pg from 'pg';
import type { AvroCodec } from '../platform/codec.js';
import { partitionKey, topicName, type TopicKey } from '../platform/topics.js';
import { readProjectionOffsets } from '../store/projection-offsets.js';

export interface ProducedMessage {
  readonly key: string;
  /** null = tombstone; a Buffer is sent as is (bad input). */
  readonly value: unknown;
  readonly headers?: IHeaders;
  readonly partition?: number;
}

/** Produces messages (Avro-encoded unless a Buffer or null) and returns the log-end offsets per partition. */
export async function produce(
  kafka: Kafka,
  codec: AvroCodec,
  prefix: string,
  key: TopicKey,
  messages: readonly ProducedMessage[],
  chunk = 5000,
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const encode = await codec.encoderFor<unknown>(key);
    for (let start = 0; start < messages.length; start += chunk) {
      await producer.send({
        topic: topicName(key, prefix),
        acks: -1,
        messages: messages.slice(start, start + chunk).map((message) => ({
          key: message.key,
          value: message.value === null ? null : Buffer.isBuffer(message.value) ? message.value : encode(message.value),
          headers: message.headers,
          partition: message.partition,
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Log-end offsets of the given topics: topic -> partition -> high watermark. */
export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<Map<string, Map<number, number>>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = new Map<string, Map<number, number>>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      result.set(topic, new Map(offsets.map((entry) => [entry.partition, Number(entry.high)])));
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

/** True when every non-empty partition of the topics has its next offset stored at the log end. */
export async function offsetsReached(pool: pg.Pool, projection: string, ends: Map<string, Map<number, number>>): Promise<boolean> {
  const rows = await readProjectionOffsets(pool, projection);
  const stored = new Map(rows.map((row) => [partitionKey(row.topic, row.partition), row.nextOffset]));
  for (const [topic, partitions] of ends) {
    for (const [partition, high] of partitions) {
      if (high === 0) continue;
      if ((stored.get(partitionKey(topic, partition)) ?? -1) < high) return false;
    }
  }
  return true;
}
