import { createRequire } from 'node:module';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel, type LogEntry, type Admin, type ISocketFactory, type ITopicConfig } from 'kafkajs';
import type { Logger } from './logger.js';
import { Counter, type Registry } from './metrics.js';
import { TOPICS, TOPIC_KEYS, topicConfigEntries, topicName, type TopicKey } from './topics.js';

export { Kafka, Partitioners } from 'kafkajs';
export type { Consumer, Producer, Admin } from 'kafkajs';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs warns once per producer that its v2 default partitioner differs from v1's. Tickflow has no
// v1 data and wants exactly the v2 default (Java-compatible murmur2), so the warning is only noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/**
 * kafkajs's own socket factory, with Nagle's algorithm turned off. kafkajs leaves it on, so a request written
 * while an earlier one on the same connection is unanswered (pipelined produce requests, a fetch after a
 * commit) waits in the kernel for that answer's ACK; the broker turns it off on its side. The gateway bench
 * measures the difference (bench/RESULTS.md, Gateway).
 */
export const noDelaySocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket: Socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  socket.setNoDelay(true);
  return socket;
};

interface KafkaErrorCode {
  readonly type: string;
  readonly retriable: boolean;
  readonly message: string;
}

// kafkajs's own table of protocol errors (the one it decides retries by); it is not part of its typed API.
const kafkaErrorCodes = (createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: KafkaErrorCode[] }).errorCodes;
const retriableByMessage = new Map(kafkaErrorCodes.filter((code) => code.retriable).map((code) => [code.message, code.type]));

/**
 * kafkajs logs every broker error answer at ERROR (`Response <Api>(...)`), including the transient ones it (or the
 * caller) retries: Kafka 4's CONCURRENT_TRANSACTIONS while the previous transaction's markers are written, a
 * coordinator that moved or is still loading. Those are normal operation, so they are logged at debug and counted;
 * a retriable answer that finally fails still surfaces as the caller's error. Returns the error type when
 * `message`/`error` is such an answer, else undefined.
 */
export function transientBrokerAnswer(message: string, error: unknown): string | undefined {
  if (!message.startsWith('Response ') || typeof error !== 'string') return undefined;
  return retriableByMessage.get(error);
}

/** The API name of a `Response Produce(key: 0, version: 7)` log message. */
function apiOf(message: string): string {
  return /^Response (\w+)/.exec(message)?.[1] ?? 'unknown';
}

/**
 * A kafkajs client whose logs go through the process's pino logger. With `registry`, transient broker answers are
 * counted in `tickflow_kafka_transient_responses_total{api,error}` (they are logged at debug only).
 */
export function createKafka(options: {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  readonly registry?: Registry;
}): Kafka {
  const kafkaLogger = options.logger.child({ component: 'kafkajs' });
  const transient = options.registry ? transientResponsesCounter(options.registry) : undefined;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 10 },
    socketFactory: noDelaySocketFactory,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        const transientType = level === logLevel.ERROR ? transientBrokerAnswer(message, rest.error) : undefined;
        if (transientType !== undefined) {
          transient?.inc({ api: apiOf(message), error: transientType });
          kafkaLogger.debug({ ...rest, retriable: transientType }, message);
          return;
        }
        kafkaLogger[levelNames[level] ?? 'info'](rest, message);
      },
  });
}

/** One counter per registry, however many clients a process creates. */
function transientResponsesCounter(registry: Registry): Counter<'api' | 'error'> {
  const name = 'tickflow_kafka_transient_responses_total';
  return (
    (registry.getSingleMetric(name) as Counter<'api' | 'error'> | undefined) ??
    new Counter({
      name,
      help: 'Transient (retriable) error answers from Kafka brokers, e.g. CONCURRENT_TRANSACTIONS, logged at debug and retried',
      labelNames: ['api', 'error'],
      registers: [registry],
    })
  );
}

export interface ApplyTopicsResult {
  readonly created: string[];
  readonly updated: string[];
}

/**
 * While other clients create or delete topics, KRaft can answer UNKNOWN_TOPIC_OR_PARTITION to the
 * leader wait of createTopics, which kafkajs does not retry. Creating is idempotent, so retry with the
 * topics still missing.
 */
async function createWithRetry(admin: Admin, topics: ITopicConfig[], attempts = 10): Promise<void> {
  let pending = topics;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    try {
      await admin.createTopics({ topics: pending, waitForLeaders: true });
      return;
    } catch (error) {
      if (attempt >= attempts || !/does not host this topic-partition|leader|already exists/i.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      const existing = new Set(await admin.listTopics());
      pending = pending.filter((topic) => !existing.has(topic.topic));
    }
  }
}

/**
 * Creates the pipeline's topics when missing and brings existing ones to the catalog's configs and
 * partition counts. Safe to run any number of times.
 */
export async function applyTopics(admin: Admin, prefix: string, keys: readonly TopicKey[] = TOPIC_KEYS): Promise<ApplyTopicsResult> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = [];
  const present: TopicKey[] = [];
  for (const key of keys) {
    const name = topicName(key, prefix);
    if (existing.has(name)) present.push(key);
    else
      missing.push({
        topic: name,
        numPartitions: TOPICS[key].partitions,
        replicationFactor: 1,
        configEntries: topicConfigEntries(TOPICS[key]),
      });
  }
  if (missing.length > 0) await createWithRetry(admin, missing);

  const updated: string[] = [];
  if (present.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((key) => topicName(key, prefix)) });
    const grow = metadata.topics
      .map((topic) => {
        const key = present.find((candidate) => topicName(candidate, prefix) === topic.name)!;
        return { topic: topic.name, count: TOPICS[key].partitions, current: topic.partitions.length };
      })
      .filter((entry) => entry.count > entry.current);
    if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow.map(({ topic, count }) => ({ topic, count })) });
    await admin.alterConfigs({
      validateOnly: false,
      resources: present.map((key) => ({
        type: 2, // ConfigResourceTypes.TOPIC
        name: topicName(key, prefix),
        configEntries: topicConfigEntries(TOPICS[key]),
      })),
    });
    updated.push(...present.map((key) => topicName(key, prefix)));
  }
  return { created: missing.map((topic) => topic.topic), updated };
}
