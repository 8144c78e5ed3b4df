import { randomBytes } from 'node:crypto';
import {
  AvroCodec,
  applyTopics,
  createKafka,
  createLogger,
  loadPlatformConfig,
  TOPIC_KEYS,
  type Kafka,
  type TopicKey,
} from '../platform/index.js';

/** A topic prefix no other test uses, so test files can share one broker. */
export function uniquePrefix(label = 't'): string {
  return `test.${label}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}.`;
}

export interface TestKafka {
  readonly prefix: string;
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly brokers: string[];
  readonly registryUrl: string;
  /** Deletes the test's topics. */
  cleanup(): Promise<void>;
}

/**
 * Creates the catalog's topics (or some of them) under a fresh prefix on the real broker and registers
 * their schemas in the real registry.
 */
export async function createTestTopics(label: string, keys: readonly TopicKey[] = TOPIC_KEYS): Promise<TestKafka> {
  const config = loadPlatformConfig();
  const prefix = uniquePrefix(label);
  const logger = createLogger(`test-${label}`, { level: 'error' });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `test-${label}`, logger });
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(admin, prefix, keys);
  await admin.disconnect();
  const codec = new AvroCodec(config.SCHEMA_REGISTRY_URL, prefix);
  await codec.registerAll(keys);
  return {
    prefix,
    kafka,
    codec,
    brokers: config.KAFKA_BROKERS,
    registryUrl: config.SCHEMA_REGISTRY_URL,
    /** Deletes every topic under the prefix, including those the code under test created. */
    cleanup: () => deleteTopicsUnder(prefix, kafka),
  };
}

/** Deletes every topic whose name starts with `prefix` (a test's own topics and those the code under test made). */
export async function deleteTopicsUnder(
  prefix: string,
  kafka = createKafka({
    brokers: loadPlatformConfig().KAFKA_BROKERS,
    clientId: 'test-cleanup',
    logger: createLogger('test-cleanup', { level: 'silent' }),
  }),
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
}

/**
 * createTestTopics, retried: on a loaded broker a fresh topic's metadata can lag its creation
 * ("does not host this topic-partition"), which is a property of the moment, not of the test.
 */
export async function createTopicsRetrying(label: string, keys: readonly TopicKey[], attempts = 3): Promise<TestKafka> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await createTestTopics(label, keys);
    } catch (error) {
      if (attempt >= attempts || !/does not host this topic-partition|leader/i.test(String(error))) throw error;
    }
  }
}
