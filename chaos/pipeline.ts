import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { Supervisor, type StageSpec } from '../cli/supervisor.js';
import { TickflowClient, type Subscription } from '../gateway/client/index.js';
import type { WireEvent } from '../gateway/client/protocol.js';
import { resumeAfter, startSimulator, type SimulatorHandle } from '../ingest/index.js';
import { TokenService, createLogger, loadAuthConfig, topicName, type PatternEventRecord, type TopicKey } from '../platform/index.js';
import { migrate, redisKeys, type RedisKeys } from '../projections/index.js';
import { createTestAccount } from '../store/accounts/testing.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { loadChaosConfig } from './config.js';
import { duplicatesOf, readTopic, type ReadRecord } from './readers.js';

/** The stages the chaos suite runs as child processes (the simulator runs in the test process: it is the feed). */
export type StageName = 'ingest' | 'processors' | 'projector' | 'gateway';

/** The fields of a pattern event the checks read (the record type is owned by platform/records.ts). */
type PatternEventValue = Pick<PatternEventRecord, 'eventId' | 'patternId' | 'kind' | 'symbol'>;

/** What the independent readers found after the pipeline caught up. */
export interface PipelineCheck {
  /** Pattern events on the topic (read_committed). */
  readonly topicEvents: number;
  readonly topicDuplicates: number;
  readonly tableRows: number;
  readonly tableMissing: number;
  readonly tableDuplicates: number;
  readonly tableExtra: number;
  /** Symbols whose Redis event list was compared (those with at most the capped number of events). */
  readonly redisSymbolsChecked: number;
  readonly redisMissing: number;
  readonly redisDuplicates: number;
  readonly redisExtra: number;
  readonly clientEvents: number;
  readonly clientMissing: number;
  readonly clientDuplicates: number;
  readonly clientOutOfOrder: number;
  /** Client events whose (partition, offset) does not hold the same event on the topic. */
  readonly clientMismatched: number;
  readonly inputRecords: number;
}

const INPUT_TOPICS: readonly TopicKey[] = ['minuteAggregates', 'dailyAggregates'];
const REDIS_EVENTS_CAP = 50;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits for `condition`, re-checking every `intervalMs`; fails with `what` and the last error after `timeoutMs`. */
export async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The whole pipeline on the simulator, isolated from everything else on the machine: its own topic prefix,
 * database, Redis prefix, consumer groups and ports. Stages run as child processes under the lead's
 * Supervisor (which restarts them when killed); the readers that check the outcome share nothing with them.
 */
export class ChaosPipeline {
  readonly lines: string[] = [];
  readonly secrets: string[] = [];
  private supervisor: Supervisor | undefined;
  private simulator: SimulatorHandle | undefined;
  private client: TickflowClient | undefined;
  private subscription: Subscription | undefined;
  readonly received: WireEvent[] = [];
  private readonly logFile: string;
  /** Simulated time where the previous feed stopped: the next feed continues from there (repeated bars would be duplicates). */
  private feedClockMs = Date.parse('2026-11-24T14:31:00Z');

  private constructor(
    readonly label: string,
    readonly kafka: TestKafka,
    readonly database: TestDatabase,
    readonly pool: pg.Pool,
    readonly redis: Redis,
    readonly redisPrefix: string,
    readonly keys: RedisKeys,
    readonly ports: Record<'simulator' | 'ingest' | 'processors' | 'projector' | 'gateway', number>,
    readonly jwtSecret: string,
    readonly simulatorKey: string,
  ) {
    const dir = loadChaosConfig().CHAOS_LOG_DIR;
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${label}-${Date.now()}.log`);
    this.secrets.push(jwtSecret, simulatorKey);
  }

  static async create(label: string): Promise<ChaosPipeline> {
    const [kafka, database] = await Promise.all([createTestTopics(label), createTestDatabase(label)]);
    await migrate(database.url, { timescale: 'off', log: () => {} });
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => {});
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false, maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const redisPrefix = uniqueRedisPrefix(label);
    const ports = {
      simulator: await freePort(),
      ingest: await freePort(),
      processors: await freePort(),
      projector: await freePort(),
      gateway: await freePort(),
    };
    const jwtSecret = `chaos-jwt-secret-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
    return new ChaosPipeline(
      label,
      kafka,
      database,
      pool,
      redis,
      redisPrefix,
      redisKeys(redisPrefix),
      ports,
      jwtSecret,
      `chaos-sim-key-${Math.random().toString(36).slice(2)}`,
    );
  }

  get prefix(): string {
    return this.kafka.prefix;
  }

  get processorGroup(): string {
    return `${this.prefix}chaos-processors`;
  }

  /** Environment shared by every stage: isolation (prefix, database, Redis prefix, groups, ports) and secrets. */
  private env(): Record<string, string> {
    return {
      TOPIC_PREFIX: this.prefix,
      KAFKA_BROKERS: this.kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: this.kafka.registryUrl,
      DATABASE_URL: this.database.url,
      LOG_LEVEL: 'info',
      JWT_SECRET: this.jwtSecret,
      MASSIVE_WS_URL: `ws://127.0.0.1:${this.ports.simulator}`,
      MASSIVE_API_KEY: this.simulatorKey,
      INGEST_OPS_PORT: String(this.ports.ingest),
      INGEST_BACKOFF_BASE_MS: '200',
      INGEST_BACKOFF_MAX_MS: '1000',
      INGEST_CHANNELS: 'AM',
      PROCESSOR_GROUP_ID: this.processorGroup,
      PROCESSOR_OPS_PORT: String(this.ports.processors),
      PROCESSOR_TRADE_BARS: 'false',
      PROCESSOR_SNAPSHOT_EVERY_RECORDS: '500',
      PROJECTOR_OPS_PORT: String(this.ports.projector),
      REDIS_KEY_PREFIX: this.redisPrefix,
      PROJECTOR_TIMESCALE: 'off',
      GATEWAY_PORT: String(this.ports.gateway),
    };
  }

  private specs(): StageSpec[] {
    const env = this.env();
    return [
      { name: 'ingest', args: ['ingest', '--source', 'massive'], env, metricsUrl: `http://127.0.0.1:${this.ports.ingest}/metrics` },
      { name: 'processors', args: ['process'], env, metricsUrl: `http://127.0.0.1:${this.ports.processors}/metrics` },
      { name: 'projector', args: ['project'], env, metricsUrl: `http://127.0.0.1:${this.ports.projector}/metrics` },
      { name: 'gateway', args: ['gateway'], env, metricsUrl: `http://127.0.0.1:${this.ports.gateway}/metrics` },
    ];
  }

  private healthUrl(stage: StageName): string {
    const port =
      stage === 'ingest'
        ? this.ports.ingest
        : stage === 'processors'
          ? this.ports.processors
          : stage === 'projector'
            ? this.ports.projector
            : this.ports.gateway;
    return `http://127.0.0.1:${port}/health`;
  }

  private log(line: string): void {
    this.lines.push(line);
    appendFileSync(this.logFile, `${line}\n`);
  }

  /** Starts the stages and waits until each answers /health; then connects the gateway client. */
  async start(): Promise<void> {
    this.supervisor = new Supervisor(this.specs(), (line) => this.log(line), {
      initialDelayMs: 200,
      maxDelayMs: 2000,
      healthyAfterMs: 10_000,
    });
    this.supervisor.start();
    // If the test process dies, its stages must not live on as orphans.
    process.once('exit', this.killStagesOnExit);
    for (const stage of ['ingest', 'processors', 'projector', 'gateway'] as const) await this.waitHealthy(stage);
    // The gateway refuses a token whose user does not exist: the client's reader is a real account.
    const { id: userId } = await createTestAccount(this.pool);
    const { token } = await new TokenService(loadAuthConfig({ JWT_SECRET: this.jwtSecret })).issueAccessToken({ userId });
    this.secrets.push(token);
    this.client = new TickflowClient({
      url: `ws://127.0.0.1:${this.ports.gateway}/ws`,
      auth: { token },
      WebSocket: WebSocket as never,
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
    });
    await this.client.connect();
    this.subscription = this.client.subscribe({ stream: 'patterns', from: 'earliest', window: 5000 });
    const subscription = this.subscription;
    void (async () => {
      try {
        for await (const event of subscription) this.received.push(event);
      } catch (error) {
        this.log(`[chaos] gateway client subscription ended: ${(error as Error).message}`);
      }
    })();
  }

  private readonly killStagesOnExit = (): void => {
    for (const pid of Object.values(this.supervisor?.pids() ?? {})) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  async waitHealthy(stage: StageName, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${stage} /health`,
      async () => (await fetch(this.healthUrl(stage), { signal: AbortSignal.timeout(1000) })).ok,
      timeoutMs,
      250,
    );
  }

  /** Starts the feed: the Massive-protocol simulator at a bounded rate, in a regular session (patterns need one). */
  async startFeed(options: { symbols?: number; rate?: number; speed?: number } = {}): Promise<void> {
    this.simulator = await startSimulator({
      port: this.ports.simulator,
      apiKey: this.simulatorKey,
      universeSize: options.symbols ?? 24,
      eventsPerSecond: options.rate ?? 100,
      speed: options.speed ?? 120,
      secondAggregates: false,
      startTimeMs: this.feedClockMs,
      seed: 7,
      logger: createLogger('simulator', { level: 'warn' }),
    });
  }

  async stopFeed(): Promise<void> {
    if (!this.simulator) return;
    // The simulator's own clock says where it got to (it jumps over nights); continue after it.
    const reachedMs = this.simulator.clockMs();
    await this.simulator.stop();
    this.simulator = undefined;
    this.feedClockMs = resumeAfter(reachedMs);
  }

  pid(stage: StageName): number | undefined {
    return this.supervisor?.pids()[stage];
  }

  restarts(stage: StageName): number {
    return this.supervisor?.restarts(stage) ?? 0;
  }

  /** kill -9 of a stage; resolves once the supervisor has restarted it and it answers /health. */
  async kill(stage: StageName): Promise<void> {
    const pid = this.pid(stage);
    if (pid === undefined) throw new Error(`${stage} is not running`);
    const before = this.restarts(stage);
    this.log(`[chaos] SIGKILL ${stage} (pid ${pid})`);
    process.kill(pid, 'SIGKILL');
    await waitFor(
      `${stage} to be restarted`,
      async () => this.restarts(stage) > before && this.pid(stage) !== undefined && this.pid(stage) !== pid,
      60_000,
      100,
    );
    await this.waitHealthy(stage);
  }

  /** Pattern events produced so far (per processors' metrics), to inject a fault mid-stream. */
  async patternEventsProduced(): Promise<number> {
    const end = await this.endOffsets(topicName('patterns', this.prefix));
    return [...end.values()].reduce((sum, offset) => sum + offset, 0);
  }

  private async endOffsets(topic: string): Promise<Map<number, number>> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(topic)).map((entry) => [entry.partition, Number(entry.high)]));
    } finally {
      await admin.disconnect();
    }
  }

  /** Input records the processors have not consumed yet (their committed group offsets vs. the end offsets). */
  async processorLag(): Promise<number> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      let lag = 0;
      for (const key of INPUT_TOPICS) {
        const topic = topicName(key, this.prefix);
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map((entry) => [entry.partition, Number(entry.high)]));
        const [committed] = await admin.fetchOffsets({ groupId: this.processorGroup, topics: [topic] });
        for (const [partition, end] of ends) {
          const offset = Number(committed?.partitions.find((entry) => entry.partition === partition)?.offset ?? -1);
          lag += Math.max(0, end - Math.max(0, offset));
        }
      }
      return lag;
    } finally {
      await admin.disconnect();
    }
  }

  async inputRecords(): Promise<number> {
    let total = 0;
    for (const key of INPUT_TOPICS) for (const end of (await this.endOffsets(topicName(key, this.prefix))).values()) total += end;
    return total;
  }

  /**
   * After the feed stopped: waits until the processors consumed every input record, then reads the pattern
   * topic and waits until the table, the Redis read model and the gateway client hold all of it; then compares.
   */
  async settleAndCheck(timeoutMs = 300_000): Promise<PipelineCheck> {
    await waitFor('the processors to consume every input record', async () => (await this.processorLag()) === 0, timeoutMs);
    const topic = await readTopic<PatternEventValue>(this.kafka.kafka, this.kafka.codec, topicName('patterns', this.prefix));
    const ids = new Set(topic.map((record) => record.value.eventId));
    const tableIds = async () =>
      (await this.pool.query<{ event_id: string }>('SELECT event_id FROM pattern_events')).rows.map((row) => row.event_id);
    await waitFor(
      'pattern_events to hold every event of the topic',
      async () => {
        const rows = new Set(await tableIds());
        return [...ids].every((id) => rows.has(id));
      },
      timeoutMs,
    );
    const bySymbol = new Map<string, string[]>();
    for (const record of topic) bySymbol.set(record.value.symbol, [...(bySymbol.get(record.value.symbol) ?? []), record.value.eventId]);
    const checkable = [...bySymbol].filter(([, events]) => events.length <= REDIS_EVENTS_CAP);
    const redisIds = async (symbol: string) =>
      (await this.redis.zrange(this.keys.symbolEvents(symbol), '0', '-1')).map(
        (member) => (JSON.parse(member) as { eventId: string }).eventId,
      );
    await waitFor(
      'the Redis read model to hold every event',
      async () => {
        for (const [symbol, events] of checkable) {
          const held = new Set(await redisIds(symbol));
          if (!events.every((id) => held.has(id))) return false;
        }
        return true;
      },
      timeoutMs,
    );
    await waitFor(
      'the gateway client to receive every event',
      async () => new Set(this.received.map((event) => (event.data as unknown as PatternEventValue).eventId)).size >= ids.size,
      timeoutMs,
    );

    const rows = await tableIds();
    let redisMissing = 0;
    let redisDuplicates = 0;
    let redisExtra = 0;
    for (const [symbol, events] of checkable) {
      const held = await redisIds(symbol);
      const expected = new Set(events);
      redisMissing += events.filter((id) => !held.includes(id)).length;
      redisDuplicates += held.length - new Set(held).size;
      redisExtra += held.filter((id) => !expected.has(id)).length;
    }
    const client = this.received;
    const topicAt = new Map(topic.map((record) => [`${record.partition}:${record.offset}`, record]));
    let outOfOrder = 0;
    const lastOffset = new Map<number, number>();
    for (const event of client) {
      if ((lastOffset.get(event.p) ?? -1) >= event.o) outOfOrder += 1;
      lastOffset.set(event.p, event.o);
    }
    const clientIds = client.map((event) => (event.data as unknown as PatternEventValue).eventId);
    const clientSet = new Set(clientIds);
    const rowSet = new Set(rows);
    return {
      topicEvents: topic.length,
      topicDuplicates: [...duplicatesOf(topic, (record: ReadRecord<PatternEventValue>) => record.value.eventId).values()].reduce(
        (sum, count) => sum + count - 1,
        0,
      ),
      tableRows: rows.length,
      tableMissing: [...ids].filter((id) => !rowSet.has(id)).length,
      tableDuplicates: rows.length - rowSet.size,
      tableExtra: [...rowSet].filter((id) => !ids.has(id)).length,
      redisSymbolsChecked: checkable.length,
      redisMissing,
      redisDuplicates,
      redisExtra,
      clientEvents: client.length,
      clientMissing: [...ids].filter((id) => !clientSet.has(id)).length,
      clientDuplicates: clientIds.length - clientSet.size,
      clientOutOfOrder: outOfOrder,
      clientMismatched: client.filter(
        (event) => topicAt.get(`${event.p}:${event.o}`)?.value.eventId !== (event.data as unknown as PatternEventValue).eventId,
      ).length,
      inputRecords: await this.inputRecords(),
    };
  }

  /** Stops everything this pipeline started and removes its topics, database and Redis keys. */
  async stop(): Promise<void> {
    this.client?.close();
    await this.stopFeed().catch(() => {});
    await this.supervisor?.stop(10_000);
    process.removeListener('exit', this.killStagesOnExit);
    const keys = await this.redis.keys(`${this.redisPrefix}*`).catch(() => [] as string[]);
    if (keys.length > 0) await this.redis.del(...keys).catch(() => {});
    this.redis.disconnect();
    await this.pool.end().catch(() => {});
    await this.database.drop().catch(() => {});
    await this.kafka.cleanup().catch(() => {});
  }
}
