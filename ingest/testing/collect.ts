import { randomBytes } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import type { AvroCodec, Consumer, Kafka, TopicKey } from '../../platform/index.js';
import { createTestTopics } from '../../test/kafka.js';

/** The shared test helper (topic creation retries inside platform applyTopics). */
export const createIngestTestTopics = createTestTopics;

export interface Collected {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly headers: IHeaders;
  readonly value: Record<string, unknown>;
}

export interface Collector {
  readonly messages: Collected[];
  on(key: TopicKey): Collected[];
  stop(): Promise<void>;
}

/** Reads topics from the beginning into an array, decoding values with the codec (tests). */
export async function collectTopics(kafka: Kafka, codec: AvroCodec, keys: readonly TopicKey[]): Promise<Collector> {
  const consumer: Consumer = kafka.consumer({ groupId: `ingest-test-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: keys.map((key) => codec.topic(key)), fromBeginning: true });
  const messages: Collected[] = [];
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      messages.push({
        topic,
        partition,
        key: message.key?.toString('utf8') ?? '',
        headers: message.headers ?? {},
        value: await codec.decode<Record<string, unknown>>(message.value!),
      });
    },
  });
  return {
    messages,
    on: (key) => messages.filter((message) => message.topic === codec.topic(key)),
    stop: () => consumer.disconnect(),
  };
}
