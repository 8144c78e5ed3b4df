import { hostname } from 'node:os';
import cliProgress from 'cli-progress';
import {
  AvroCodec,
  ConfigError,
  createKafka,
  createLogger,
  createMetricsRegistry,
  exitForRestart,
  loadPlatformConfig,
  topicName,
  type Logger,
  type TopicKey,
} from '../platform/index.js';
import { backfillBars, backfillFundamentals, backfillSymbols, type BackfillSummary } from './backfill.js';
import { CheckpointStore, readCheckpoints } from './checkpoint.js';
import { loadIngestConfig, loadMassiveConfig, loadSimulatorConfig, subscriptionParams } from './config.js';
import { importFlatFile, type FlatFileSummary } from './flatfile.js';
import { startIngest, type IngestHandle } from './live.js';
import { createIngestMetrics } from './metrics.js';
import type { BarInterval } from './records.js';
import { MassiveRest } from './rest.js';
import { KafkaSink } from './sink.js';
import { applyTopics } from '../platform/index.js';
import { lastRecords } from '../platform/latest-records.js';
import { startSimulator, type SimulatorHandle } from './simulator/server.js';
import { startStageProcess } from '../platform/stage-process.js';
import { loadCalendarConfig, sessionCalendarFrom } from '../contracts/calendar-config.js';
import type { SessionCalendar } from '../contracts/calendar.js';

/**
 * The ingest stage's entry points (what `tickflow ingest`, `tickflow simulator` and `npm start` run): each reads the
 * env once, builds the options of the adapter it starts, and owns the process concerns (lifecycle, progress display).
 */

const INGEST_TOPICS: readonly TopicKey[] = [
  'trades',
  'quotes',
  'secondAggregates',
  'minuteAggregates',
  'dailyAggregates',
  'luld',
  'fmv',
  'symbols',
  'fundamentals',
  'deadLetters',
  'ingestCheckpoints',
];

/** The session calendar the processors run on (PROCESSOR_HOLIDAYS, …), so the simulator trades exactly in their sessions. */
function processorCalendar(): SessionCalendar {
  return sessionCalendarFrom(loadCalendarConfig());
}

/** Creates the ingest topics and registers their schemas when missing (both idempotent). */
async function prepareKafka(logger: Logger) {
  const platform = loadPlatformConfig();
  const kafka = createKafka({ brokers: platform.KAFKA_BROKERS, clientId: `${platform.KAFKA_CLIENT_ID}-ingest`, logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await applyTopics(admin, platform.TOPIC_PREFIX, INGEST_TOPICS);
  } finally {
    await admin.disconnect();
  }
  const codec = new AvroCodec(platform.SCHEMA_REGISTRY_URL, platform.TOPIC_PREFIX);
  await codec.registerAll(INGEST_TOPICS);
  return { kafka, codec, platform };
}

export interface LiveFlags {
  readonly source: 'massive' | 'simulator';
  readonly speed?: number;
  readonly rate?: number;
  readonly record?: string;
}

/** `tickflow ingest --source massive|simulator`: runs until SIGTERM (or until the returned handle's `stop`, which shuts the process's stage down). */
export async function runLiveIngest(flags: LiveFlags): Promise<IngestHandle & { readonly opsPort: number }> {
  const config = loadIngestConfig();
  const massive = loadMassiveConfig();
  const simulator = loadSimulatorConfig();
  // The lease's fencing is a kafkajs transactional producer.
  if (config.INGEST_LEASE && config.INGEST_KAFKA_CLIENT !== 'kafkajs')
    throw new ConfigError(['INGEST_LEASE: the lease fences through kafkajs transactions; set INGEST_KAFKA_CLIENT=kafkajs']);
  const { logger, registry, lifecycle, serveOps } = startStageProcess('ingest');
  const { kafka, codec, platform } = await prepareKafka(logger);
  const handle = await startIngest({
    source: flags.source,
    url: massive.MASSIVE_WS_URL,
    apiKey: massive.MASSIVE_API_KEY,
    subscriptions: subscriptionParams(config.INGEST_CHANNELS, config.INGEST_SYMBOLS, config.INGEST_LULD, config.INGEST_FMV),
    simulator: {
      host: simulator.SIMULATOR_HOST,
      port: simulator.SIMULATOR_PORT,
      eventsPerSecond: flags.rate ?? simulator.SIMULATOR_RATE,
      speed: flags.speed ?? simulator.SIMULATOR_SPEED,
      universeSize: simulator.SIMULATOR_SYMBOLS,
      seed: simulator.SIMULATOR_SEED,
      apiKey: simulator.SIMULATOR_API_KEY,
      replayFile: simulator.SIMULATOR_REPLAY_FILE,
      secondAggregates: simulator.SIMULATOR_SECOND_AGGREGATES,
      startTimeMs: simulator.SIMULATOR_START ? Date.parse(simulator.SIMULATOR_START) : undefined,
      maxBufferedBytes: simulator.SIMULATOR_MAX_BUFFER_MB * 1024 * 1024,
      benchmarkSymbol: platform.BENCHMARK_SYMBOL,
      calendar: processorCalendar(),
    },
    protocol: {
      backoffBaseMs: config.INGEST_BACKOFF_BASE_MS,
      backoffMaxMs: config.INGEST_BACKOFF_MAX_MS,
      handshakeTimeoutMs: config.INGEST_HANDSHAKE_TIMEOUT_MS,
      idlePingMs: config.INGEST_IDLE_PING_MS,
      pongTimeoutMs: config.INGEST_PONG_TIMEOUT_MS,
    },
    dedup: { windowPerKey: config.INGEST_DEDUP_WINDOW, maxKeys: config.INGEST_DEDUP_MAX_KEYS },
    partitionCacheMaxKeys: config.INGEST_PARTITION_CACHE_MAX_KEYS,
    kafka,
    codec,
    brokers: platform.KAFKA_BROKERS,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    benchmarkSymbol: platform.BENCHMARK_SYMBOL,
    maxBatchMessages: config.INGEST_BATCH_MESSAGES,
    kafkaClient: config.INGEST_KAFKA_CLIENT,
    maxInFlight: config.INGEST_MAX_IN_FLIGHT,
    highWaterMessages: config.INGEST_HIGH_WATER,
    stallTimeoutMs: config.INGEST_KAFKA_STALL_TIMEOUT_MS,
    // Kafka stalled: unacknowledged messages in memory are lost with the process; the live feed cannot replay
    // them (a backfill re-reads its last page from the checkpoint).
    onStall: exitForRestart(logger),
    recordFile: flags.record ?? config.INGEST_RECORD_FILE,
    logger,
    registry,
    lease: config.INGEST_LEASE
      ? {
          id: config.INGEST_LEASE_ID,
          topic: topicName('ingestCheckpoints', platform.TOPIC_PREFIX),
          instance: config.INGEST_INSTANCE ?? `${hostname()}-${process.pid}`,
          sessionTimeoutMs: config.INGEST_LEASE_TIMEOUT_MS,
          // Exits for the supervisor (compose's restart policy, `tickflow start`) to start it again as a standby.
          onLost: exitForRestart(logger),
        }
      : undefined,
  });
  lifecycle.onShutdown('ingest', () => handle.stop());
  const opsPort = await serveOps({ port: config.INGEST_OPS_PORT, checks: handle.checks });
  logger.info({ source: flags.source, opsPort, simulatorPort: handle.simulatorPort, role: handle.role() }, 'ingest running');
  return { ...handle, opsPort, stop: () => lifecycle.shutdown('stopped') };
}

export interface SimulatorFlags {
  readonly port?: number;
  readonly speed?: number;
  readonly rate?: number;
  readonly symbols?: number;
  readonly replay?: string;
}

/** `tickflow simulator`: the fake Massive server alone, until SIGTERM. */
export async function runSimulator(flags: SimulatorFlags): Promise<SimulatorHandle> {
  const config = loadSimulatorConfig();
  const platform = loadPlatformConfig();
  const { logger, lifecycle } = startStageProcess('simulator');
  const handle = await startSimulator({
    host: config.SIMULATOR_HOST,
    port: flags.port ?? config.SIMULATOR_PORT,
    eventsPerSecond: flags.rate ?? config.SIMULATOR_RATE,
    speed: flags.speed ?? config.SIMULATOR_SPEED,
    universeSize: flags.symbols ?? config.SIMULATOR_SYMBOLS,
    seed: config.SIMULATOR_SEED,
    apiKey: config.SIMULATOR_API_KEY,
    replayFile: flags.replay ?? config.SIMULATOR_REPLAY_FILE,
    secondAggregates: config.SIMULATOR_SECOND_AGGREGATES,
    startTimeMs: config.SIMULATOR_START ? Date.parse(config.SIMULATOR_START) : undefined,
    maxBufferedBytes: config.SIMULATOR_MAX_BUFFER_MB * 1024 * 1024,
    flowControl: config.SIMULATOR_FLOW_CONTROL,
    benchmarkSymbol: platform.BENCHMARK_SYMBOL,
    calendar: processorCalendar(),
    logger,
  });
  lifecycle.onShutdown('simulator', () => handle.stop());
  logger.info({ url: `${handle.url}/stocks`, metrics: `http://${config.SIMULATOR_HOST}:${handle.port}/metrics` }, 'simulator running');
  return handle;
}

async function withSink<T>(logger: Logger, work: (sink: KafkaSink, checkpoints: () => Promise<CheckpointStore>) => Promise<T>): Promise<T> {
  const { kafka, codec, platform } = await prepareKafka(logger);
  const config = loadIngestConfig();
  const sink = await KafkaSink.create({
    kafka,
    codec,
    checkpoints: true,
    logger,
    metrics: createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false })),
    benchmarkSymbol: platform.BENCHMARK_SYMBOL,
    stallTimeoutMs: config.INGEST_KAFKA_STALL_TIMEOUT_MS,
    onStall: exitForRestart(logger),
  });
  // The backfill's progress, as the last run (on any instance) left it in the checkpoints topic.
  const checkpoints = async () =>
    new CheckpointStore(
      await readCheckpoints({
        kafka,
        codec,
        topic: topicName('ingestCheckpoints', platform.TOPIC_PREFIX),
        groupPrefix: `${platform.KAFKA_CLIENT_ID}-checkpoints`,
        logger,
      }),
      (record) => sink.checkpoint(record),
    );
  try {
    return await work(sink, checkpoints);
  } finally {
    await sink.close();
  }
}

function progressBar(unit: string) {
  if (!process.stdout.isTTY) return undefined;
  return new cliProgress.SingleBar(
    { format: `{bar} {percentage}% | {value}/{total} ${unit} | {eta_formatted} left | {detail}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
}

/** `tickflow ingest --source file`: imports flat files one after the other. */
export async function runFileImport(paths: readonly string[], interval: BarInterval | undefined): Promise<FlatFileSummary[]> {
  const logger = createLogger('ingest');
  return withSink(logger, async (sink) => {
    const summaries: FlatFileSummary[] = [];
    for (const path of paths) {
      const bar = progressBar('KiB');
      let started = false;
      const summary = await importFlatFile({
        path,
        sink,
        interval,
        onProgress: (bytes, total, rows) => {
          if (!bar) return;
          if (!started) bar.start(Math.ceil(total / 1024), 0, { detail: `${rows} rows` });
          started = true;
          bar.update(Math.ceil(bytes / 1024), { detail: `${rows} rows` });
        },
      });
      bar?.stop();
      logger.info({ path, ...summary }, 'flat file imported');
      summaries.push(summary);
    }
    return summaries;
  });
}

export interface RestFlags {
  readonly what: 'bars' | 'symbols' | 'fundamentals';
  readonly symbols: readonly string[];
  readonly timespan: 'minute' | 'day';
  readonly from?: string;
  readonly to?: string;
  readonly details: boolean;
  readonly maxTickers?: number;
}

/** `tickflow ingest --source rest`: bars, reference tickers or fundamentals; resumable for bars. */
export async function runRestBackfill(flags: RestFlags): Promise<BackfillSummary> {
  const logger = createLogger('ingest');
  const massive = loadMassiveConfig();
  if (!massive.MASSIVE_API_KEY) throw new Error('REST backfill needs MASSIVE_API_KEY');
  const rest = new MassiveRest({
    apiKey: massive.MASSIVE_API_KEY,
    baseUrl: massive.MASSIVE_REST_URL,
    maxRetries: massive.MASSIVE_REST_MAX_RETRIES,
    backoffMs: massive.MASSIVE_REST_BACKOFF_MS,
    logger,
  });
  return withSink(logger, async (sink, checkpoints) => {
    const bar = progressBar('symbols');
    let started = false;
    const onProgress = (event: { symbolsDone: number; symbolsTotal: number; symbol: string; records: number }) => {
      if (!bar) return logger.info(event, 'backfill progress');
      if (!started) bar.start(event.symbolsTotal, 0, { detail: '' });
      started = true;
      bar.update(event.symbolsDone, { detail: `${event.symbol} ${event.records} records` });
    };
    try {
      if (flags.what === 'symbols')
        return await backfillSymbols({ rest, sink, logger, details: flags.details, maxTickers: flags.maxTickers, onProgress });
      if (flags.symbols.length === 0) throw new Error(`--symbols is required for ${flags.what}`);
      if (flags.what === 'fundamentals') return await backfillFundamentals({ rest, sink, symbols: flags.symbols, logger, onProgress });
      if (!flags.from || !flags.to) throw new Error('--from and --to (YYYY-MM-DD) are required for bars');
      return await backfillBars({
        rest,
        sink,
        symbols: flags.symbols,
        timespan: flags.timespan,
        from: flags.from,
        to: flags.to,
        checkpoint: await checkpoints(),
        logger,
        onProgress,
      });
    } finally {
      bar?.stop();
    }
  });
}

/** The latest event times already in the feed's topics (undefined for an empty topic). */
export interface LoggedFeedTimes {
  /** The latest end of a minute bar, or trade time, in the minute-bars and trades topics. */
  readonly intradayMs: number | undefined;
  /** The latest daily bar's window start. */
  readonly dailyStartMs: number | undefined;
}

/** Reads the last records of each partition of the bar and trade topics: where a resumed feed must continue after. */
export async function loggedFeedTimes(logger: Logger): Promise<LoggedFeedTimes> {
  const platform = loadPlatformConfig();
  const kafka = createKafka({ brokers: platform.KAFKA_BROKERS, clientId: `${platform.KAFKA_CLIENT_ID}-resume`, logger });
  const codec = new AvroCodec(platform.SCHEMA_REGISTRY_URL, platform.TOPIC_PREFIX);
  const latest = async (key: TopicKey, timeOf: (value: Record<string, unknown>) => unknown): Promise<number | undefined> => {
    let found: number | undefined;
    // A few per partition: the trade-built bars' transactions end with markers, which carry no value.
    for (const message of await lastRecords(kafka, topicName(key, platform.TOPIC_PREFIX), {
      perPartition: 20,
      groupPrefix: platform.KAFKA_CLIENT_ID,
    })) {
      if (!message.value) continue;
      const time = timeOf(await codec.decode<Record<string, unknown>>(message.value));
      if (typeof time === 'number' && Number.isFinite(time) && (found === undefined || time > found)) found = time;
    }
    return found;
  };
  const [minute, trade, dailyStartMs] = await Promise.all([
    latest('minuteAggregates', (value) => value.windowEndMs),
    latest('trades', (value) => value.sipTimestampMs),
    latest('dailyAggregates', (value) => value.windowStartMs),
  ]);
  const intradayMs = minute === undefined ? trade : trade === undefined ? minute : Math.max(minute, trade);
  return { intradayMs, dailyStartMs };
}

export interface StartBackfillOptions {
  /** The simulator's (or Massive's) REST base URL and key. */
  readonly restUrl: string;
  readonly apiKey: string;
  /** Daily bars of [from, to] (YYYY-MM-DD); none when from > to. */
  readonly dailyFrom: string;
  readonly dailyTo: string;
  readonly logger: Logger;
}

/**
 * What the dashboard needs besides the live feed: reference tickers (with details: sector, market cap),
 * each ticker's daily bars and fundamentals. `npm start` runs it against the simulator's REST side.
 */
export async function runStartBackfill(
  options: StartBackfillOptions,
): Promise<{ symbols: number; dailyBars: number; fundamentals: number }> {
  const { logger } = options;
  const massive = loadMassiveConfig();
  const rest = new MassiveRest({
    apiKey: options.apiKey,
    baseUrl: options.restUrl,
    maxRetries: massive.MASSIVE_REST_MAX_RETRIES,
    backoffMs: massive.MASSIVE_REST_BACKOFF_MS,
    logger,
  });
  return withSink(logger, async (sink) => {
    const symbols: string[] = [];
    let page = await rest.tickers();
    for (;;) {
      symbols.push(...page.results.map((ticker) => ticker.ticker));
      if (!page.nextUrl) break;
      page = await rest.nextPage(page.nextUrl);
    }
    const reference = await backfillSymbols({ rest, sink, logger, details: true });
    const daily =
      options.dailyFrom <= options.dailyTo
        ? await backfillBars({
            rest,
            sink,
            symbols,
            timespan: 'day',
            from: options.dailyFrom,
            to: options.dailyTo,
            checkpoint: new CheckpointStore(),
            logger,
          })
        : { records: 0 };
    const fundamentals = await backfillFundamentals({ rest, sink, symbols, logger });
    return { symbols: reference.records, dailyBars: daily.records, fundamentals: fundamentals.records };
  });
}
