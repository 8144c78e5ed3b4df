import { randomBytes } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import { AvroCodec, createKafka, createLogger, loadPlatformConfig, type Consumer, type Kafka, type TopicKey } from '../../platform/index.js';
import { ensureTopics } from '../../platform/ensure-topics.js';
import { uniquePrefix, type TestKafka } from '../../test/kafka.js';

/** test/kafka.ts createTestTopics with ensureTopics (retried topic creation on the same prefix). */
export async function createIngestTestTopics(label: string, keys: readonly TopicKey[]): Promise<TestKafka> {
  const config = loadPlatformConfig();
  const prefix = uniquePrefix(label);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `test-${label}`, logger: createLogger(`test-${label}`, { level: 'fatal' }) });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, prefix, keys);
  } finally {
    await admin.disconnect();
  }
  const codec = new AvroCodec(config.SCHEMA_REGISTRY_URL, prefix);
  await codec.registerAll(keys);
  return {
    prefix,
    kafka,
    codec,
    brokers: config.KAFKA_BROKERS,
    registryUrl: config.SCHEMA_REGISTRY_URL,
    cleanup: async () => {
      const cleaner = kafka.admin();
      await cleaner.connect();
      const topics = (await cleaner.listTopics()).filter((topic) => topic.startsWith(prefix));
      await cleaner.deleteTopics({ topics }).catch(() => {});
      await cleaner.disconnect();
    },
  };
}

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
