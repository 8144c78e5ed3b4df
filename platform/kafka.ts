import { createRequire } from 'node:module';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  Kafka,
  logLevel,
  type LogEntry,
  type Admin,
  type AdminConfig,
  type ConsumerConfig,
  type ISocketFactory,
  type ITopicConfig,
  type KafkaConfig,
  type ProducerConfig,
  type Producer,
} from 'kafkajs';
import { ConfigError } from './config.js';
import './kafkajs-timers.js';
import {
  KafkaAccessError,
  kafkaAccessFailure,
  kafkajsSecurityOptions,
  kafkaSecurityFromEnv,
  loadKafkaSettings,
  topicReplication,
  type KafkaSecurity,
  type KafkaSettings,
} from './kafka-settings.js';
import type { Logger } from './logger.js';
import { Counter, type Registry } from './metrics.js';
import {
  TOPICS,
  TOPIC_KEYS,
  coPartitioningProblems,
  partitionCount,
  partitionKey,
  topicConfigEntries,
  topicName,
  type TopicKey,
} from './topics.js';

export { AssignerProtocol, Kafka, Partitioners } from 'kafkajs';
export type { Consumer, Producer, Admin, PartitionAssigner } from 'kafkajs';

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

/**
 * A kafkajs client that checks, before its first connection, that the brokers accept its credentials and that it
 * trusts their certificate (when TLS or SASL is configured). kafkajs retries a refused TLS handshake like any lost
 * connection, so an untrusted certificate would otherwise look like a broker that never answers; this fails at
 * once with a KafkaAccessError naming the settings to check.
 */
class CheckedKafka extends Kafka {
  private access: Promise<void> | undefined;

  constructor(
    private readonly config: KafkaConfig,
    private readonly security: KafkaSecurity,
  ) {
    super(config);
  }

  override producer(config?: ProducerConfig) {
    return this.guarded(super.producer(config));
  }
  override consumer(config: ConsumerConfig) {
    return this.guarded(super.consumer(config));
  }
  override admin(config?: AdminConfig) {
    return this.guarded(super.admin(config));
  }

  private guarded<Client extends { connect(): Promise<void> }>(client: Client): Client {
    if (!this.security.tls && !this.security.sasl) return client;
    const connect = client.connect.bind(client);
    client.connect = async () => {
      await (this.access ??= this.checkAccess());
      return connect();
    };
    return client;
  }

  private async checkAccess(): Promise<void> {
    const probe = new Kafka({ ...this.config, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    try {
      await probe.connect();
    } catch (error) {
      const reason = kafkaAccessFailure(error, this.security);
      // Anything else (a broker not up yet) is left to the client's own retries.
      if (reason) throw new KafkaAccessError(`Kafka (${this.config.brokers.toString()}, ${this.security.protocol}): ${reason}`);
    } finally {
      await probe.disconnect().catch(() => {});
    }
  }
}

interface KafkaErrorCode {
  readonly type: string;
  readonly retriable: boolean;
  readonly message: string;
}

// kafkajs's own table of protocol errors (the one it decides retries by); it is not part of its typed API.
const kafkaErrorCodes = (createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { errorCodes: KafkaErrorCode[] }).errorCodes;
const retriableByMessage = new Map(kafkaErrorCodes.filter((code) => code.retriable).map((code) => [code.message, code.type]));

/** kafkajs's producer logs each retried send so (`producer/sendMessages.js`), the error's message after it. */
const SEND_RETRY_PREFIX = 'Failed to send messages: ';

/**
 * kafkajs logs every broker error answer at ERROR (`Response <Api>(...)`), and the producer's retry of a send that
 * such an answer failed again (`Failed to send messages: <message>`), including the transient ones it (or the caller)
 * retries: Kafka 4's CONCURRENT_TRANSACTIONS while the previous transaction's markers are written, a coordinator that
 * moved or is still loading. Those are normal operation, so they are logged at debug and counted; a retriable answer
 * that finally fails still surfaces as the caller's error. Returns the error type when `message`/`error` is such an
 * answer, else undefined.
 */
export function transientBrokerAnswer(message: string, error: unknown): string | undefined {
  if (message.startsWith(SEND_RETRY_PREFIX)) return retriableByMessage.get(message.slice(SEND_RETRY_PREFIX.length));
  if (!message.startsWith('Response ') || typeof error !== 'string') return undefined;
  return retriableByMessage.get(error);
}

/** The broker's answers to a producer whose transactional id another producer has initialised since (KIP-588 maps both). */
const FENCED_TYPES: ReadonlySet<string> = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** A Kafka protocol error of one of `types` in the error or its causes (kafkajs wraps them: retries exceeded, non-retriable). */
function hasKafkaErrorType(error: unknown, types: ReadonlySet<string>): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    const { type, cause, originalError } = current as { type?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof type === 'string' && types.has(type)) return true;
    current = cause ?? originalError;
  }
  return false;
}

/**
 * Kafka refused a transactional producer because a newer one with the same transactional id exists: it must stop
 * writing for good (retrying cannot succeed).
 */
export function isProducerFenced(error: unknown): boolean {
  return hasKafkaErrorType(error, FENCED_TYPES);
}

/** The high watermark of every partition of `topics` (the offset after the last committed record), keyed by `partitionKey`. */
export async function highWatermarks(admin: Pick<Admin, 'fetchTopicOffsets'>, topics: readonly string[]): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  await Promise.all(
    topics.map(async (topic) => {
      for (const entry of await admin.fetchTopicOffsets(topic)) ends.set(partitionKey(topic, entry.partition), Number(entry.high));
    }),
  );
  return ends;
}

/** The broker's answers to an idempotent producer whose sequence numbers it no longer accepts. */
const SEQUENCE_LOST_TYPES: ReadonlySet<string> = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID']);

/**
 * Kafka refuses the producer's sequence numbers (kafkajs issue #598: after a broker returns, kafkajs keeps its producer
 * id and sequences, and every retry is refused the same way): only a producer with a new id can write again. The
 * partitions that answered with this error did not append the batch.
 */
export function isProducerSequenceLost(error: unknown): boolean {
  return hasKafkaErrorType(error, SEQUENCE_LOST_TYPES);
}

/**
 * Connects a transactional producer and has the coordinator initialise its transactional id now (InitProducerId):
 * when this resolves, every earlier producer of the id is fenced and its open transaction aborted. kafkajs's
 * `connect()` alone does not do it (it initialises the id lazily, at the first `transaction()`), so a producer that
 * has written nothing yet fences nobody, and an earlier one could still commit.
 */
export async function connectFencing(producer: Pick<Producer, 'connect' | 'transaction'>): Promise<void> {
  await producer.connect();
  const transaction = await producer.transaction();
  // Nothing was added to it: kafkajs ends it locally, with no request.
  await transaction.abort();
}

/** The API name of a `Response Produce(key: 0, version: 7)` log message; a send's retry is the producer's. */
function apiOf(message: string): string {
  if (message.startsWith(SEND_RETRY_PREFIX)) return 'Produce';
  return /^Response (\w+)/.exec(message)?.[1] ?? 'unknown';
}

/**
 * A kafkajs client whose logs go through the process's pino logger. TLS and SASL come from the env
 * (KAFKA_SECURITY_PROTOCOL and the KAFKA_TLS_* / KAFKA_SASL_* settings) unless `security` is given. With `registry`,
 * transient broker answers are counted in `tickflow_kafka_transient_responses_total{api,error}` (they are logged at
 * debug only).
 */
export function createKafka(options: {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  readonly security?: KafkaSecurity;
  readonly registry?: Registry;
}): Kafka {
  const kafkaLogger = options.logger.child({ component: 'kafkajs' });
  const security = options.security ?? kafkaSecurityFromEnv();
  const transient = options.registry ? transientResponsesCounter(options.registry) : undefined;
  return new CheckedKafka(
    {
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      retry: { initialRetryTime: 200, retries: 10 },
      socketFactory: noDelaySocketFactory,
      ...kafkajsSecurityOptions(security),
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
    },
    security,
  );
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

/** How `applyTopics` lays the topics out; by default from the env (KAFKA_PARTITIONS and the replication settings). */
export type TopicLayout = Pick<KafkaSettings, 'KAFKA_PARTITIONS' | 'KAFKA_REPLICATION_FACTOR' | 'KAFKA_MIN_INSYNC_REPLICAS'>;

/**
 * Creates the pipeline's topics when missing and brings existing ones to the catalog's configs and
 * partition counts. Safe to run any number of times. Replicas default to min(3, brokers), and
 * min.insync.replicas to 2 when there are 3 or more (so an acks=all write survives one broker down);
 * the co-partitioning rule is checked before anything changes.
 */
export async function applyTopics(
  admin: Admin,
  prefix: string,
  keys: readonly TopicKey[] = TOPIC_KEYS,
  layout: TopicLayout = loadKafkaSettings(),
): Promise<ApplyTopicsResult> {
  const existing = new Set(await admin.listTopics());
  const { brokers } = await admin.describeCluster();
  const { replicationFactor, minInsyncReplicas } = topicReplication(layout, brokers.length);
  const present = keys.filter((key) => existing.has(topicName(key, prefix)));
  const metadata =
    present.length > 0 ? await admin.fetchTopicMetadata({ topics: present.map((key) => topicName(key, prefix)) }) : { topics: [] };
  const currentPartitions = new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
  const problems = coPartitioningProblems(currentPartitions, prefix, layout.KAFKA_PARTITIONS);
  if (problems.length > 0) throw new ConfigError(problems);

  const configEntries = (key: TopicKey) => [
    ...topicConfigEntries(TOPICS[key]),
    { name: 'min.insync.replicas', value: String(minInsyncReplicas) },
  ];
  const missing: ITopicConfig[] = keys
    .filter((key) => !existing.has(topicName(key, prefix)))
    .map((key) => ({
      topic: topicName(key, prefix),
      numPartitions: partitionCount(TOPICS[key], layout.KAFKA_PARTITIONS),
      replicationFactor,
      configEntries: configEntries(key),
    }));
  if (missing.length > 0) await createWithRetry(admin, missing);

  const updated: string[] = [];
  if (present.length > 0) {
    const grow = present
      .map((key) => ({
        topic: topicName(key, prefix),
        count: partitionCount(TOPICS[key], layout.KAFKA_PARTITIONS),
        current: currentPartitions.get(topicName(key, prefix)) ?? 0,
      }))
      .filter((entry) => entry.count > entry.current);
    if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow.map(({ topic, count }) => ({ topic, count })) });
    await admin.alterConfigs({
      validateOnly: false,
      resources: present.map((key) => ({
        type: 2, // ConfigResourceTypes.TOPIC
        name: topicName(key, prefix),
        configEntries: configEntries(key),
      })),
    });
    updated.push(...present.map((key) => topicName(key, prefix)));
  }
  return { created: missing.map((topic) => topic.topic), updated };
}
