import { createWriteStream, type WriteStream } from 'node:fs';
import {
  createMetricsRegistry,
  trackStructures,
  type AvroCodec,
  type HealthCheck,
  type Kafka,
  type Logger,
  type Registry,
} from '../platform/index.js';
import { IngestCore } from './core.js';
import { joinIngestLease, type IngestLease } from './lease.js';
import type { LeaseRole } from './lease-core.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';
import type { Phase, ProtocolConfig } from './protocol.js';
import { KafkaSink } from './sink.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from './simulator/server.js';
import { MassiveSocketClient } from './socket-client.js';
import type { Channel } from './wire.js';

/** The active/standby lease (INGEST_LEASE): this instance writes the feed only while it holds it (ingest/lease.ts). */
export interface IngestLeaseSettings {
  /** Names the lease's consumer group and the transactional id of the active instance's producer (INGEST_LEASE_ID). */
  readonly id: string;
  /** The one-partition topic whose partition is the lease (the deployment's ops.ingest-checkpoints.v1). */
  readonly topic: string;
  /** This instance's name in logs, /ready and the group (INGEST_INSTANCE). */
  readonly instance: string;
  /** A dead holder is out of the group after this long, and a standby takes over (INGEST_LEASE_TIMEOUT_MS). */
  readonly sessionTimeoutMs: number;
  /**
   * The lease is lost (given to another instance, or Kafka fenced this one's writes): the feed is already stopped;
   * the process ends, for its supervisor to start it again as a standby (main exits).
   */
  readonly onLost: (reason: string) => void;
}

export interface IngestOptions {
  /** `massive`: connect to `url`; `simulator`: start the embedded simulator and connect to it. */
  readonly source: 'massive' | 'simulator';
  /** Cluster base URL; `/stocks` is appended. Ignored for the embedded simulator. */
  readonly url?: string;
  readonly apiKey?: string;
  /** Subscription params, e.g. ["T.*", "Q.*", "A.*", "AM.*"]. */
  readonly subscriptions?: readonly string[];
  readonly simulator?: SimulatorOptions;
  readonly protocol?: Partial<Omit<ProtocolConfig, 'url' | 'apiKey' | 'subscriptions'>>;
  readonly dedup?: { readonly windowPerKey: number; readonly maxKeys: number };
  /** INGEST_PARTITION_CACHE_MAX_KEYS. */
  readonly partitionCacheMaxKeys?: number;
  /** Kafka client and codec (ingest/main.ts builds them from the platform config; tests pass their isolated ones). */
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  /** Bootstrap servers and client id of the platformatic producer (INGEST_KAFKA_CLIENT=platformatic). */
  readonly brokers?: readonly string[];
  readonly kafkaClientId?: string;
  readonly benchmarkSymbol: string;
  readonly maxBatchMessages?: number;
  /** Producer library (INGEST_KAFKA_CLIENT). */
  readonly kafkaClient?: 'kafkajs' | 'platformatic';
  readonly maxInFlight?: number;
  readonly highWaterMessages?: number;
  /** See KafkaSinkSettings: Kafka acknowledging nothing this long while messages wait calls `onStall`. */
  readonly stallTimeoutMs?: number;
  readonly onStall?: (reason: string) => void;
  readonly recordFile?: string;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Without it, the instance writes at once and alone (one process; a second one would write the feed twice). */
  readonly lease?: IngestLeaseSettings;
}

export interface IngestHandle {
  readonly metrics: IngestMetrics;
  readonly registry: Registry;
  /** What the ingest's /ready checks (the process serves them through its ops server: ingest/main.ts). */
  readonly checks: readonly HealthCheck[];
  /** Port of the embedded simulator, when source = simulator. */
  readonly simulatorPort: number | undefined;
  readonly simulator: SimulatorHandle | undefined;
  phase(): Phase;
  /** The lease role (`active` without a lease: the instance is the writer). */
  role(): LeaseRole;
  /** Resolves when everything received so far is acknowledged by Kafka. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_SUBSCRIPTIONS = ['T.*', 'Q.*', 'A.*', 'AM.*'];

function channelsOf(subscriptions: readonly string[]): Set<Channel> {
  return new Set(subscriptions.map((entry) => entry.split('.')[0] as Channel));
}

/**
 * Runs the live source: Massive protocol client -> pure ingest core (normalise, dedup, dead-letter)
 * -> Kafka sink. Never gives up on the socket; pauses reading while Kafka is behind.
 */
export async function startIngest(options: IngestOptions): Promise<IngestHandle> {
  const { logger, kafka, codec } = options;
  const registry = options.registry ?? createMetricsRegistry('ingest');
  const metrics = createIngestMetrics(registry);
  const subscriptions = options.subscriptions ?? DEFAULT_SUBSCRIPTIONS;
  const sourceName = options.source === 'simulator' ? 'simulator' : 'massive';

  let simulator: SimulatorHandle | undefined;
  let url = options.url ?? 'wss://socket.massive.com';
  let apiKey = options.apiKey ?? '';
  if (options.source === 'simulator') {
    simulator = await startSimulator({ logger: logger.child({ component: 'simulator' }), ...options.simulator });
    url = simulator.url;
    apiKey = options.simulator?.apiKey ?? (apiKey || 'simulator');
  }
  if (apiKey === '') throw new Error('the massive source needs an API key (MASSIVE_API_KEY)');
  const protocol: ProtocolConfig = {
    url: `${url.replace(/\/+$/, '')}/stocks`,
    apiKey,
    subscriptions,
    backoffBaseMs: 500,
    backoffMaxMs: 30_000,
    handshakeTimeoutMs: 10_000,
    idlePingMs: 15_000,
    pongTimeoutMs: 10_000,
    ...options.protocol,
  };
  const recorder: WriteStream | undefined = options.recordFile ? createWriteStream(options.recordFile, { flags: 'a' }) : undefined;
  const core = new IngestCore({ source: sourceName, channels: channelsOf(subscriptions), dedup: options.dedup });
  let lease: IngestLease | undefined;
  /** Set by `stop`: a lease won from then on opens nothing. */
  let closing = false;

  /** The sink and the socket: opened at once without a lease, when the lease is won with one. */
  const openFeed = async () => {
    const sink = await KafkaSink.create({
      kafka,
      codec,
      logger,
      metrics,
      benchmarkSymbol: options.benchmarkSymbol,
      maxBatchMessages: options.maxBatchMessages,
      client: options.kafkaClient,
      brokers: options.brokers,
      clientId: options.kafkaClientId === undefined ? undefined : `${options.kafkaClientId}-ingest`,
      maxInFlight: options.maxInFlight,
      highWaterMessages: options.highWaterMessages,
      stallTimeoutMs: options.stallTimeoutMs,
      onStall: options.onStall,
      partitionCacheMaxKeys: options.partitionCacheMaxKeys,
      // The lease's fencing: opening this producer fences the previous holder's.
      transactionalId: options.lease?.id,
      onFenced: () => {
        metrics.fenced.inc();
        lease?.fenced();
      },
    });
    trackStructures(registry, [...core.trackedStructures(), ...sink.trackedStructures()]);
    const client = new MassiveSocketClient(
      protocol,
      {
        onFrame: (text, receivedAtMs) => {
          recorder?.write(`${text}\n`);
          const outcome = core.processFrame(text, receivedAtMs);
          if (outcome.itemsIn > 0) metrics.eventsIn.inc({ source: sourceName }, outcome.itemsIn);
          if (outcome.duplicates > 0) metrics.duplicates.inc({ source: sourceName }, outcome.duplicates);
          if (outcome.records.length > 0) sink.produce(outcome.records);
          if (outcome.deadLetters.length > 0) sink.deadLetter(outcome.deadLetters);
        },
        onPhase: (phase, state) => {
          metrics.connected.set({ source: sourceName }, phase === 'streaming' ? 1 : 0);
          if (phase === 'connecting' && state.reconnects > 0) metrics.reconnects.inc({ source: sourceName });
        },
      },
      logger.child({ component: 'massive-ws' }),
    );
    sink.onSaturation((saturated) => {
      if (saturated) client.pause();
      else client.resume();
    });
    client.start();
    return { sink, client };
  };
  let feed: Awaited<ReturnType<typeof openFeed>> | undefined;
  const closeFeed = async () => {
    const open = feed;
    feed = undefined;
    if (!open) return;
    open.client.stop();
    await open.sink.close();
  };

  if (options.lease) {
    const settings = options.lease;
    lease = await joinIngestLease({
      kafka,
      topic: settings.topic,
      groupId: settings.id,
      instance: settings.instance,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      logger,
      metrics,
      onStep: async (step) => {
        if (step.action === 'activate') {
          if (closing) return;
          logger.info({ instance: settings.instance, takeover: step.takeover }, 'ingest lease won: opening the feed');
          try {
            feed = await openFeed();
          } catch (error) {
            logger.error({ err: error }, 'could not open the feed after winning the lease');
            settings.onLost(`could not open the feed: ${(error as Error).message}`);
          }
          return;
        }
        const reason = 'ingest lease lost: another instance writes the feed now';
        logger.warn({ instance: settings.instance }, reason);
        await closeFeed();
        settings.onLost(reason);
      },
    });
  } else {
    feed = await openFeed();
  }

  const checks: HealthCheck[] = [
    {
      name: 'feed',
      check: async () => {
        if (!feed) {
          // A standby is doing its job: waiting. /ready says so.
          if (lease?.role() === 'standby') return { phase: 'standby' };
          throw new Error(`no feed: ingest lease ${lease?.role() ?? 'not held'}`);
        }
        const { client } = feed;
        if (client.phase !== 'streaming') throw new Error(`live source is ${client.phase}`);
        return { phase: client.phase, reconnects: client.reconnects };
      },
    },
    { name: 'kafka', check: async () => ({ bufferedMessages: feed?.sink.buffered ?? 0 }) },
    ...(lease
      ? [
          {
            name: 'lease',
            check: async () => {
              const role = lease!.role();
              if (role === 'joining' || role === 'lost') throw new Error(`ingest lease ${role} (instance ${lease!.instance})`);
              return { role, instance: lease!.instance };
            },
          },
        ]
      : []),
  ];

  let stopping: Promise<void> | undefined;
  return {
    metrics,
    registry,
    checks,
    simulatorPort: simulator?.port,
    simulator,
    phase: () => feed?.client.phase ?? 'idle',
    role: () => lease?.role() ?? 'active',
    flush: async () => {
      await feed?.sink.flush();
    },
    stop: () => {
      stopping ??= (async () => {
        // The feed first (what was received is flushed), then the group: a standby takes over at once.
        closing = true;
        await lease?.settled();
        await closeFeed();
        await lease?.stop();
        await new Promise<void>((resolve) => (recorder ? recorder.end(resolve) : resolve()));
        await simulator?.stop();
      })();
      return stopping;
    },
  };
}
