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
import {
  AssignerProtocol,
  TokenService,
  createLogger,
  loadAuthConfig,
  topicName,
  type PatternEventRecord,
  type TopicKey,
} from '../platform/index.js';
import { LATEST_EVENTS_PER_SYMBOL, migrate, redisKeys, type RedisKeys } from '../projections/index.js';
import { createTestAccount } from '../store/accounts/testing.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { loadChaosConfig } from './config.js';
import { diffLatestEvents, holdsLatestEvents, type TopicEventRef } from './latest-events.js';
import { duplicatesOf, readTopic, type ReadRecord } from './readers.js';
import { checkSequences, type SequenceCheck, type SequencedRecord } from './input-sequences.js';

/** The stages the chaos suite runs as child processes (the simulator runs in the test process: it is the feed). */
export type StageName = 'ingest' | 'processors' | 'projector' | 'gateway' | 'api';

const STAGES: readonly StageName[] = ['ingest', 'processors', 'projector', 'gateway', 'api'];

/** The setting that names each stage's port (the one its /health answers on). */
const PORT_SETTING: Readonly<Record<StageName, string>> = {
  ingest: 'INGEST_OPS_PORT',
  processors: 'PROCESSOR_OPS_PORT',
  projector: 'PROJECTOR_OPS_PORT',
  gateway: 'GATEWAY_PORT',
  api: 'API_PORT',
};

const STAGE_ARGS: Readonly<Record<StageName, readonly string[]>> = {
  ingest: ['ingest', '--source', 'massive'],
  processors: ['process'],
  projector: ['project'],
  gateway: ['gateway'],
  api: ['api'],
};

export interface ChaosPipelineOptions {
  /**
   * Instances of each stage (default: one of each but the API, which runs only when asked). The first instance is
   * named after its stage, the others `<stage>-2`, `<stage>-3`; more than one ingest run under the ingest lease.
   */
  readonly instances?: Partial<Record<StageName, number>>;
  /** Settings over the suite's own, for every stage (e.g. INGEST_CHANNELS for the full feed). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The instance names of a stage: the stage's own name, then `<stage>-2`, ... */
function namesOf(stage: StageName, count: number): string[] {
  return Array.from({ length: count }, (_, index) => (index === 0 ? stage : `${stage}-${index + 1}`));
}

/** The fields of a pattern event the checks read (the record type is owned by platform/records.ts). */
type PatternEventValue = Pick<PatternEventRecord, 'eventId' | 'patternId' | 'kind' | 'symbol' | 'detectedAtMs'>;

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
  /** Patterns whose history was read through the API instances, alternating between them (0 without an API). */
  readonly apiPatternsChecked: number;
  readonly apiMissing: number;
  readonly apiDuplicates: number;
  readonly apiExtra: number;
  /** API calls during the run (background traffic and the check) that failed on every instance. */
  readonly apiFailed: number;
  /** API calls answered by another instance after the first one failed. */
  readonly apiFailovers: number;
}

const INPUT_TOPICS: readonly TopicKey[] = ['minuteAggregates', 'dailyAggregates'];
/** Sequence numbers a feed may use before the next feed's start (a feed of a few minutes uses a few million at most). */
const FEED_SEQUENCE_STRIDE = 100_000_000;
/** Patterns whose history the API reader compares (one call each). */
const API_PATTERNS_CHECKED = 200;

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
  private feedSequenceBase = 0;
  /** The gateway instance the client last connected to (it moves on to the next one when that one is gone). */
  private clientGateway: string | undefined;
  private gatewayConnects = 0;
  private token: string | undefined;
  private apiTurn = 0;
  private apiTraffic: { stop: boolean; done: Promise<void> } | undefined;
  private readonly apiCounts = { failed: 0, failovers: 0, calls: 0 };

  private constructor(
    readonly label: string,
    readonly kafka: TestKafka,
    readonly database: TestDatabase,
    readonly pool: pg.Pool,
    readonly redis: Redis,
    readonly redisPrefix: string,
    readonly keys: RedisKeys,
    /** `simulator` and every stage instance (`ingest`, `processors-2`, ...). */
    readonly ports: Readonly<Record<string, number>>,
    readonly jwtSecret: string,
    readonly simulatorKey: string,
    /** Instance names per stage. */
    readonly instances: Readonly<Record<StageName, readonly string[]>>,
    private readonly extraEnv: Readonly<Record<string, string>>,
  ) {
    const dir = loadChaosConfig().CHAOS_LOG_DIR;
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${label}-${Date.now()}.log`);
    this.secrets.push(jwtSecret, simulatorKey);
  }

  static async create(label: string, options: ChaosPipelineOptions = {}): Promise<ChaosPipeline> {
    const [kafka, database] = await Promise.all([createTestTopics(label), createTestDatabase(label)]);
    await migrate(database.url, { timescale: 'off', log: () => {} });
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pool.on('error', () => {});
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false, maxRetriesPerRequest: null });
    redis.on('error', () => {});
    const redisPrefix = uniqueRedisPrefix(label);
    const counts: Record<StageName, number> = { ingest: 1, processors: 1, projector: 1, gateway: 1, api: 0, ...options.instances };
    const instances = Object.fromEntries(STAGES.map((stage) => [stage, namesOf(stage, counts[stage])])) as Record<StageName, string[]>;
    const ports: Record<string, number> = { simulator: await freePort() };
    for (const stage of STAGES) for (const name of instances[stage]) ports[name] = await freePort();
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
      instances,
      options.env ?? {},
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
      INGEST_BACKOFF_BASE_MS: '200',
      INGEST_BACKOFF_MAX_MS: '1000',
      INGEST_CHANNELS: 'AM',
      PROCESSOR_GROUP_ID: this.processorGroup,
      PROCESSOR_TRADE_BARS: 'false',
      PROCESSOR_SNAPSHOT_EVERY_RECORDS: '500',
      REDIS_KEY_PREFIX: this.redisPrefix,
      PROJECTOR_TIMESCALE: 'off',
      // The harness's reader calls the API far faster than a person (its limits have tests of their own).
      API_RATE_LIMIT_PER_MINUTE: '1000000',
      // Several ingest instances: one writes, the others wait under the lease (a short session: quick takeovers).
      ...(this.instances.ingest.length > 1
        ? { INGEST_LEASE: 'true', INGEST_LEASE_ID: `${this.prefix}chaos-ingest`, INGEST_LEASE_TIMEOUT_MS: '6000' }
        : {}),
      ...this.extraEnv,
    };
  }

  private specs(): StageSpec[] {
    const env = this.env();
    return STAGES.flatMap((stage) =>
      this.instances[stage].map((name) => ({
        name,
        args: STAGE_ARGS[stage],
        env: { ...env, [PORT_SETTING[stage]]: String(this.ports[name]), ...(stage === 'ingest' ? { INGEST_INSTANCE: name } : {}) },
        metricsUrl: `http://127.0.0.1:${this.ports[name]}/metrics`,
      })),
    );
  }

  /** Every stage instance, in start order. */
  get instanceNames(): string[] {
    return STAGES.flatMap((stage) => this.instances[stage]);
  }

  private url(instance: string, path: string): string {
    const port = this.ports[instance];
    if (port === undefined) throw new Error(`no stage instance ${instance}`);
    return `http://127.0.0.1:${port}${path}`;
  }

  private healthUrl(instance: string): string {
    return this.url(instance, '/health');
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
    for (const instance of this.instanceNames) await this.waitHealthy(instance);
    // The gateway refuses a token whose user does not exist: the client's reader is a real account.
    const { id: userId } = await createTestAccount(this.pool);
    const { token } = await new TokenService(loadAuthConfig({ JWT_SECRET: this.jwtSecret })).issueAccessToken({ userId });
    this.secrets.push(token);
    this.token = token;
    const gateways = this.instances.gateway;
    this.client = new TickflowClient({
      // Each (re)connection goes to the next gateway: a client fails over between them with its cursor.
      url: () => {
        this.clientGateway = gateways[this.gatewayConnects++ % gateways.length]!;
        return `ws://127.0.0.1:${this.ports[this.clientGateway]}/ws`;
      },
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

  async waitHealthy(instance: string, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `${instance} /health`,
      async () => (await fetch(this.healthUrl(instance), { signal: AbortSignal.timeout(1000) })).ok,
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
      // Each feed numbers its events above every earlier one's, as a real feed does (ingest drops lower numbers).
      firstSequence: this.feedSequenceBase,
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
    this.feedSequenceBase += FEED_SEQUENCE_STRIDE;
    this.feedClockMs = resumeAfter(reachedMs);
  }

  pid(instance: string): number | undefined {
    return this.supervisor?.pids()[instance];
  }

  restarts(instance: string): number {
    return this.supervisor?.restarts(instance) ?? 0;
  }

  /** The gateway instance the client is connected to (or last tried). */
  get gatewayOfClient(): string | undefined {
    return this.clientGateway;
  }

  /** The ingest instance whose /ready says it holds the lease (the only one without a lease). */
  async activeIngest(): Promise<string | undefined> {
    if (this.instances.ingest.length === 1) return this.instances.ingest[0];
    for (const name of this.instances.ingest) {
      const ready = await fetch(this.url(name, '/ready'), { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      if (!ready?.ok) continue;
      const report = (await ready.json()) as { checks: { lease?: { details?: { role?: string } } } };
      if (report.checks.lease?.details?.role === 'active') return name;
    }
    return undefined;
  }

  /** A consumer group's members, and how many of them hold partitions (processors share theirs, so do projectors). */
  async groupMembers(groupId: string): Promise<{ members: number; withPartitions: number }> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([groupId]);
      const members = groups[0]?.members ?? [];
      const holding = members.filter((member) => {
        const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {};
        return Object.values(assignment).some((partitions) => partitions.length > 0);
      });
      return { members: members.length, withPartitions: holding.length };
    } finally {
      await admin.disconnect();
    }
  }

  /** The projector's consumer groups (one per projection), under the deployment's prefix and the default group prefix. */
  async projectorGroups(): Promise<string[]> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      return (await admin.listGroups()).groups
        .map((group) => group.groupId)
        .filter((id) => id.startsWith(`${this.prefix}tickflow.projections.`));
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * A GET on the API instances in turn; a failed call (refused, 5xx) is tried on the next instance, as a balancer
   * would. Counts calls, failovers and calls no instance answered.
   */
  async apiGet<T>(path: string): Promise<T | undefined> {
    const apis = this.instances.api;
    if (apis.length === 0) throw new Error('this pipeline runs no API');
    this.apiCounts.calls += 1;
    const first = this.apiTurn++ % apis.length;
    for (let attempt = 0; attempt < apis.length; attempt += 1) {
      const name = apis[(first + attempt) % apis.length]!;
      const response = await fetch(this.url(name, path), {
        headers: { authorization: `Bearer ${this.token ?? ''}` },
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
      if (response && response.status < 500) {
        if (attempt > 0) this.apiCounts.failovers += 1;
        return response.ok ? ((await response.json()) as T) : undefined;
      }
    }
    this.apiCounts.failed += 1;
    return undefined;
  }

  /** Calls alternating between the API instances in the background (what a dashboard does), until `stop`. */
  startApiTraffic(): void {
    if (this.apiTraffic || this.instances.api.length === 0) return;
    const traffic = { stop: false, done: Promise.resolve() };
    traffic.done = (async () => {
      while (!traffic.stop) {
        await this.apiGet('/api/patterns/stats');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    this.apiTraffic = traffic;
  }

  /** kill -9 of a stage instance; resolves once the supervisor has restarted it and it answers /health. */
  async kill(stage: string): Promise<void> {
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

  /** End offsets of the trades and quotes topics: where `inputSequences` starts reading. */
  async inputEnds(): Promise<Map<string, Map<number, number>>> {
    const ends = new Map<string, Map<number, number>>();
    for (const key of ['trades', 'quotes'] as const) ends.set(key, await this.endOffsets(topicName(key, this.prefix)));
    return ends;
  }

  /**
   * The trades and quotes ingest wrote since `from` (`inputEnds`), read back and checked: each written once, none
   * skipped (input-sequences.ts).
   */
  async inputSequences(from?: ReadonlyMap<string, ReadonlyMap<number, number>>): Promise<SequenceCheck> {
    const records: SequencedRecord[] = [];
    for (const key of ['trades', 'quotes'] as const) {
      const topic = topicName(key, this.prefix);
      const read = await readTopic<Omit<SequencedRecord, 'topic'>>(this.kafka.kafka, this.kafka.codec, topic, { from: from?.get(key) });
      for (const record of read)
        records.push({
          symbol: record.value.symbol,
          sequence: Number(record.value.sequence),
          sipTimestampMs: Number(record.value.sipTimestampMs),
          topic: key,
        });
    }
    return checkSequences(records, FEED_SEQUENCE_STRIDE / 2);
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
    // Every symbol is checked: one with more events than the set keeps must hold its latest ones (latest-events.ts).
    const bySymbol = new Map<string, TopicEventRef[]>();
    for (const { value } of topic) {
      const events = bySymbol.get(value.symbol);
      if (events) events.push(value);
      else bySymbol.set(value.symbol, [value]);
    }
    const redisIds = async (symbol: string) =>
      (await this.redis.zrange(this.keys.symbolEvents(symbol), '0', '-1')).map(
        (member) => (JSON.parse(member) as { eventId: string }).eventId,
      );
    await waitFor(
      "the Redis read model to hold every symbol's latest events",
      async () => {
        for (const [symbol, events] of bySymbol) {
          if (!holdsLatestEvents(events, await redisIds(symbol), LATEST_EVENTS_PER_SYMBOL)) return false;
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
    for (const [symbol, events] of bySymbol) {
      const diff = diffLatestEvents(events, await redisIds(symbol), LATEST_EVENTS_PER_SYMBOL);
      redisMissing += diff.missing;
      redisDuplicates += diff.duplicates;
      redisExtra += diff.extra;
    }
    const client = this.received;
    const topicAt = new Map(topic.map((record) => [`${record.partition}:${record.offset}`, record]));
    let outOfOrder = 0;
    const lastOffset = new Map<number, number>();
    for (const event of client) {
      if ((lastOffset.get(event.p) ?? -1) >= event.o) outOfOrder += 1;
      lastOffset.set(event.p, event.o);
    }
    const api = await this.readThroughApi(topic);
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
      redisSymbolsChecked: bySymbol.size,
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
      ...api,
      apiFailed: this.apiCounts.failed,
      apiFailovers: this.apiCounts.failovers,
    };
  }

  /** The fourth reader when the pipeline runs APIs: each pattern's history through them, alternating, against the topic. */
  private async readThroughApi(
    topic: readonly ReadRecord<PatternEventValue>[],
  ): Promise<Pick<PipelineCheck, 'apiPatternsChecked' | 'apiMissing' | 'apiDuplicates' | 'apiExtra'>> {
    const found = { apiPatternsChecked: 0, apiMissing: 0, apiDuplicates: 0, apiExtra: 0 };
    if (this.instances.api.length === 0) return found;
    const byPattern = new Map<string, string[]>();
    for (const record of topic)
      byPattern.set(record.value.patternId, [...(byPattern.get(record.value.patternId) ?? []), record.value.eventId]);
    // The API lists up to 1,000 events of a pattern.
    for (const [patternId, events] of [...byPattern].filter(([, ids]) => ids.length < 1000).slice(0, API_PATTERNS_CHECKED)) {
      const detail = await this.apiGet<{ events: { event_id: string }[] }>(`/api/patterns/${encodeURIComponent(patternId)}`);
      const held = detail?.events.map((event) => event.event_id) ?? [];
      const expected = new Set(events);
      found.apiPatternsChecked += 1;
      found.apiMissing += events.filter((id) => !held.includes(id)).length;
      found.apiDuplicates += held.length - new Set(held).size;
      found.apiExtra += held.filter((id) => !expected.has(id)).length;
    }
    return found;
  }

  /** Stops everything this pipeline started and removes its topics, database and Redis keys. */
  async stop(): Promise<void> {
    if (this.apiTraffic) {
      this.apiTraffic.stop = true;
      await this.apiTraffic.done;
    }
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
