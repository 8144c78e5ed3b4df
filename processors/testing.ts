/** The processors' integration-test harness: the stage's topics on the real broker, processors started on them, and reads of what they wrote. */
import type { KafkaMessage, Message, RecordMetadata } from 'kafkajs';
import type { AggregateRecord, Logger, TopicKey } from '../platform/index.js';
import { tailTopic } from '../platform/topic-tail.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import type { BarInput } from './engine.js';
import { startProcessor, type ProcessorHandle, type ProcessorOptions } from './processor.js';

/** The topics a processor reads and writes (its inputs, side tables and outputs). */
export const PROCESSOR_TOPICS: readonly TopicKey[] = [
  'minuteAggregates',
  'dailyAggregates',
  'fundamentals',
  'patterns',
  'processorSnapshots',
  'deadLetters',
];

/** A minute aggregate with every field of the topic's schema, as the engine reads it. */
export type MinuteAggregate = AggregateRecord & BarInput;

/** A record read back from a topic, with its partition. */
export interface ReadRecord {
  readonly partition: number;
  readonly message: KafkaMessage;
}

/** The options of startProcessor that a test chooses; the topics, inputs (minute bars) and engine (defaults) are the harness's unless given. */
export type TestProcessorOptions = Partial<Omit<ProcessorOptions, 'brokers' | 'registryUrl' | 'topicPrefix'>> & {
  readonly groupId: string;
};

export interface ProcessorTestEnv {
  readonly kafka: TestKafka;
  /** Starts a processor on the env's topics; `cleanup` stops it if the test did not. */
  start(options: TestProcessorOptions): Promise<ProcessorHandle>;
  /** Sends to a topic through one idempotent producer, in sends of at most 2000 messages; returns each message's metadata. */
  produce(topic: TopicKey, messages: readonly Message[]): Promise<RecordMetadata[]>;
  /** Everything in a topic (read_committed), in offset order per partition. */
  read(topic: TopicKey): Promise<ReadRecord[]>;
  /** The group's committed offsets of a topic, by partition. */
  committed(groupId: string, topic?: TopicKey): Promise<Map<number, number>>;
  /** The sum of a topic's high watermarks. */
  highWatermarkTotal(topic?: TopicKey): Promise<number>;
  cleanup(): Promise<void>;
}

/** Creates the processors' topics (plus `extraTopics`, e.g. trades) under a fresh prefix. */
export async function createProcessorTestEnv(
  label: string,
  logger: Logger,
  extraTopics: readonly TopicKey[] = [],
): Promise<ProcessorTestEnv> {
  const kafka = await createTestTopics(label, [...PROCESSOR_TOPICS, ...extraTopics]);
  const running = new Set<ProcessorHandle>();
  const withAdmin = async <T>(work: (admin: ReturnType<TestKafka['kafka']['admin']>) => Promise<T>): Promise<T> => {
    const admin = kafka.kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect();
    }
  };
  return {
    kafka,
    async start(options) {
      const handle = await startProcessor({
        brokers: kafka.brokers,
        registryUrl: kafka.registryUrl,
        topicPrefix: kafka.prefix,
        inputs: ['minuteAggregates'],
        engine: {},
        logger,
        ...options,
      });
      running.add(handle);
      return handle;
    },
    async produce(topic, messages) {
      const producer = kafka.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        const sent: RecordMetadata[] = [];
        for (let i = 0; i < messages.length; i += 2000)
          sent.push(...(await producer.send({ topic: kafka.codec.topic(topic), messages: messages.slice(i, i + 2000) })));
        return sent;
      } finally {
        await producer.disconnect();
      }
    },
    async read(topic) {
      const records: ReadRecord[] = [];
      const tail = await tailTopic({
        kafka: kafka.kafka,
        topic: kafka.codec.topic(topic),
        groupPrefix: 'test-reader',
        logger,
        onMessage: (message, partition) => void records.push({ partition, message }),
      });
      await tail.caughtUp();
      await tail.stop();
      return records;
    },
    committed: (groupId, topic = 'minuteAggregates') =>
      withAdmin(async (admin) => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [kafka.codec.topic(topic)] });
        return new Map(offsets!.partitions.map((entry) => [entry.partition, Number(entry.offset)]));
      }),
    highWatermarkTotal: (topic = 'minuteAggregates') =>
      withAdmin(async (admin) =>
        (await admin.fetchTopicOffsets(kafka.codec.topic(topic))).reduce((sum, entry) => sum + Number(entry.high), 0),
      ),
    async cleanup() {
      // stop() is idempotent: those the test stopped return at once.
      for (const handle of running) await handle.stop().catch(() => {});
      await kafka.cleanup();
    },
  };
}
