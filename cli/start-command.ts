import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { defineEnv, env, type EnvSource } from '../platform/config.js';
import { SessionClock, loadIngestConfig, loadMassiveConfig, loadSimulatorConfig, resumeAfter } from '../ingest/index.js';
import { loggedFeedTimes, runStartBackfill } from '../ingest/index.js';
import { loadApiConfig } from '../api/config.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { loadProcessorConfig } from '../processors/config.js';
import { loadProjectorConfig } from '../projections/index.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { createKafka, createLogger, loadPlatformConfig, topicName } from '../platform/index.js';
import { describeTopics } from '../platform/describe-topics.js';
import { demoApiKey } from './demo-access.js';
import { LocalStack, waitUntil } from '../stack/local-stack.js';
import { setupPipeline } from './setup-command.js';
import { probeTimescale, type TimescaleMode, type TimescaleProbe } from '../store/migrate.js';
import { Supervisor, type StageSpec } from './supervisor.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const loadStartConfig = defineEnv('start', {
  START_SIMULATOR_SPEED: env.number(
    'Simulated seconds per real second for the embedded simulator of `npm start` (60: a minute bar every second)',
    60,
  ),
  START_SIMULATOR_RATE: env.int('Trades + quotes per second of the embedded simulator of `npm start`', 5000),
  START_KEEP_STACK: env.bool('Leave Kafka and the registry running when `npm start` stops', false),
});

/**
 * Where the embedded simulator's clock starts: the open of the latest trading session that has begun
 * (today's when the market is open or was open today, else the previous trading day's), so that the
 * processors, which skip bars outside the regular session, find patterns from the first minute.
 */
export function simulatorStart(nowMs: number, calendar = new SessionCalendar()): number {
  const today = calendar.dayOf(nowMs);
  if (today.isTradingDay && nowMs >= today.openMs) return nowMs < today.closeMs ? nowMs : today.openMs;
  for (let dayNumber = today.dayNumber - 1; ; dayNumber -= 1) {
    const day = calendar.day(dayNumber);
    if (day.isTradingDay) return day.openMs;
  }
}

export interface SimulatorStartPlan {
  /** Where the simulated clock starts, unless refused. */
  readonly startMs: number | undefined;
  /** Why it starts there (for the start-up lines), or why it is refused. */
  readonly note: string;
  readonly refused: boolean;
}

const DAY_MS = 86_400_000;
const isoDay = (dayNumber: number) => new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
const isoMinute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/**
 * Where the embedded simulator's clock starts on this run. A stack that has run before has folded bars up
 * to the latest event time in its log; a feed starting earlier would be skipped whole (the processors never
 * go back in time), so the clock resumes just after it, and the first run's data stays as history. An
 * explicit SIMULATOR_START earlier than the log is refused rather than fed to processors that would skip it.
 */
export function planSimulatorStart(options: {
  readonly nowMs: number;
  readonly loggedUntilMs: number | undefined;
  readonly explicitStart?: string;
  readonly calendar?: SessionCalendar;
}): SimulatorStartPlan {
  const logged = options.loggedUntilMs;
  if (options.explicitStart !== undefined) {
    const explicitMs = Date.parse(options.explicitStart);
    if (!Number.isFinite(explicitMs))
      return { startMs: undefined, refused: true, note: `SIMULATOR_START=${options.explicitStart} is not an ISO 8601 time` };
    if (logged !== undefined && explicitMs < logged) {
      return {
        startMs: undefined,
        refused: true,
        note: `SIMULATOR_START=${options.explicitStart} is before the latest bar already in the log (${isoMinute(logged)} UTC): the processors would skip every simulated bar. Unset SIMULATOR_START to resume after the log, or use a fresh TOPIC_PREFIX and database for a separate run.`,
      };
    }
    return { startMs: explicitMs, refused: false, note: `simulated clock: starts at SIMULATOR_START=${options.explicitStart}` };
  }
  const fresh = simulatorStart(options.nowMs, options.calendar);
  if (logged === undefined || fresh > logged)
    return { startMs: fresh, refused: false, note: `simulated clock: starts at ${isoMinute(fresh)} UTC (the latest session)` };
  const resumed = resumeAfter(logged);
  return {
    startMs: resumed,
    refused: false,
    note: `simulated clock: resumes at ${isoMinute(resumed)} UTC, after the latest bar already in the log (${isoMinute(logged)} UTC); earlier runs' data stays as history`,
  };
}

/** The daily bars `npm start` backfills: about 400 days (enough for the 200-day averages) up to the session before the simulated start, after those already in the log. */
export function dailyBackfillRange(
  simulatorStartMs: number,
  loggedDailyStartMs: number | undefined,
  calendar = new SessionCalendar(),
): { from: string; to: string } {
  // The simulator moves a start outside a session on to the next open: its first live day is that one.
  const startDay = calendar.dayOf(new SessionClock(calendar).sessionInstant(simulatorStartMs)).dayNumber;
  const first =
    loggedDailyStartMs === undefined ? startDay - 400 : Math.max(startDay - 400, calendar.dayOf(loggedDailyStartMs).dayNumber + 1);
  return { from: isoDay(first), to: isoDay(startDay - 1) };
}

/** Ports of the stages, from each stage's own configuration (SIMULATOR_PORT, INGEST_OPS_PORT, ...). */
export interface StagePorts {
  readonly simulator: number;
  readonly ingestOps: number;
  readonly processorOps: number;
  readonly projectorOps: number;
  readonly gateway: number;
  readonly api: number;
}

export function stagePorts(source: EnvSource = process.env): StagePorts {
  return {
    simulator: loadSimulatorConfig(source).SIMULATOR_PORT,
    ingestOps: loadIngestConfig(source).INGEST_OPS_PORT,
    processorOps: loadProcessorConfig(source).PROCESSOR_OPS_PORT,
    projectorOps: loadProjectorConfig(source).PROJECTOR_OPS_PORT,
    gateway: loadGatewayConfig(source).GATEWAY_PORT,
    api: loadApiConfig(source).API_PORT,
  };
}

/**
 * The storage path of `npm start` when PROJECTOR_TIMESCALE is not set: TimescaleDB where the server preloads it
 * (`auto`), else the plain path chosen explicitly (`off`). The machine's server here has the extension installed but
 * not preloaded, where `auto` warns that it falls back; `npm start` does not leave that choice to a warning: it
 * picks the plain path and says so in its start-up lines. An explicit setting (and `tickflow migrate`/`project`
 * with `auto`) keeps the warning for such a server.
 */
export function startStorage(setting: string | undefined, probe: TimescaleProbe): { mode: TimescaleMode; note: string } {
  if (setting) return { mode: setting as TimescaleMode, note: `storage: PROJECTOR_TIMESCALE=${setting}` };
  if (probe.preloaded) return { mode: 'auto', note: 'storage: TimescaleDB (preloaded on the DATABASE_URL server)' };
  return {
    mode: 'off',
    note: 'storage: plain PostgreSQL partitions (TimescaleDB not preloaded on the DATABASE_URL server; PROJECTOR_TIMESCALE=auto|on to choose otherwise)',
  };
}

/** The stages `npm start` runs, in start order (stopped in reverse). */
export function pipelineStages(options: {
  massiveApiKey: string | undefined;
  simulatorSpeed: number;
  simulatorRate: number;
  simulatorStartMs?: number;
  ports?: StagePorts;
}): StageSpec[] {
  const live = options.massiveApiKey !== undefined;
  const ports = options.ports ?? stagePorts();
  const stages: StageSpec[] = [];
  if (!live) {
    stages.push({
      name: 'simulator',
      args: ['simulator'],
      env: {
        SIMULATOR_SPEED: String(options.simulatorSpeed),
        SIMULATOR_RATE: String(options.simulatorRate),
        SIMULATOR_START: new Date(options.simulatorStartMs ?? simulatorStart(Date.now())).toISOString(),
      },
      metricsUrl: `http://127.0.0.1:${ports.simulator}/metrics`,
      eventsMetrics: ['tickflow_simulator_events_generated_total'],
    });
  }
  stages.push(
    {
      // The live Massive source; with the simulator only its URL changes.
      name: 'ingest',
      args: ['ingest', '--source', 'massive'],
      env: live ? {} : { MASSIVE_WS_URL: `ws://127.0.0.1:${ports.simulator}`, MASSIVE_API_KEY: 'simulator' },
      // On the simulator, ingest's first connection waits until the simulator answers (they start together).
      ...(live
        ? {}
        : {
            startsAfter: () =>
              waitUntil(
                'the simulator',
                async () => (await fetch(`http://127.0.0.1:${ports.simulator}/health`).catch(() => undefined))?.ok === true,
                120_000,
              ),
          }),
      metricsUrl: `http://127.0.0.1:${ports.ingestOps}/metrics`,
      eventsMetrics: ['tickflow_ingest_events_out_total'],
    },
    {
      name: 'processors',
      args: ['process'],
      metricsUrl: `http://127.0.0.1:${ports.processorOps}/metrics`,
      eventsMetrics: [{ name: 'tickflow_processor_records_total', label: 'outcome="applied"' }],
      skippedMetrics: [{ name: 'tickflow_processor_records_total', label: 'outcome="skipped"' }],
      // The label ends with the catalog name whatever TOPIC_PREFIX is.
      patternsMetrics: [{ name: 'tickflow_processor_events_total', label: 'patterns.events.v1"' }],
    },
    {
      name: 'projector',
      args: ['project'],
      metricsUrl: `http://127.0.0.1:${ports.projectorOps}/metrics`,
      eventsMetrics: [
        { name: 'tickflow_projection_rows_total', label: 'projection="patterns"' },
        { name: 'tickflow_projection_rows_total', label: 'projection="bars"' },
      ],
      skippedMetrics: ['tickflow_projection_skipped_total'],
    },
    {
      name: 'gateway',
      args: ['gateway'],
      // Its / redirects to this run's dashboard live feed.
      env: { GATEWAY_DASHBOARD_URL: `http://{host}:${ports.api}/app/live` },
      metricsUrl: `http://127.0.0.1:${ports.gateway}/metrics`,
      eventsMetrics: ['tickflow_gateway_events_delivered_total'],
    },
    {
      name: 'api',
      args: ['api'],
      // The dashboard the API serves at /app/ connects to this run's gateway.
      env: { API_DASHBOARD_GATEWAY_URL: `ws://{host}:${ports.gateway}/ws` },
      metricsUrl: `http://127.0.0.1:${ports.api}/metrics`,
      eventsMetrics: ['tickflow_api_requests_total'],
    },
  );
  return stages;
}

/** The processors' consumer-group lag on their input topics, for the status line. */
async function processorLag(): Promise<Map<string, number>> {
  const config = loadPlatformConfig();
  const admin = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-status`,
    logger: createLogger('start', { level: 'error' }),
  }).admin();
  await admin.connect();
  try {
    const topics = (['minuteAggregates', 'dailyAggregates', 'trades'] as const).map((key) => topicName(key, config.TOPIC_PREFIX));
    const described = await describeTopics(admin, topics);
    const lag = described
      .flatMap((topic) => topic.groups.filter((group) => group.groupId.includes('processor')))
      .reduce((sum, group) => sum + group.lag, 0);
    return new Map([['processors', lag]]);
  } finally {
    await admin.disconnect();
  }
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'run the whole pipeline: stack, topics, migrations, simulator (or the real feed with MASSIVE_API_KEY) and every stage, supervised',
    )
    .action(async () => {
      const config = { ...loadStartConfig(), MASSIVE_API_KEY: loadMassiveConfig().MASSIVE_API_KEY };
      const say = (line: string) => console.log(`[start]      ${line}`);
      const stack = new LocalStack();
      const wasUp = (await stack.status())
        .filter((server) => server.name === 'kafka' || server.name === 'registry')
        .every((server) => server.up);
      await stack.up(say);
      const storage = startStorage(process.env.PROJECTOR_TIMESCALE, await probeTimescale(loadPlatformConfig().DATABASE_URL));
      // The setup below and every stage (the supervisor passes this env on) follow the one decision.
      process.env.PROJECTOR_TIMESCALE = storage.mode;
      say(storage.note);
      await setupPipeline(say);
      const simulated = config.MASSIVE_API_KEY === undefined;
      const logger = createLogger('start', { level: 'warn' });
      const logged = simulated ? await loggedFeedTimes(logger) : undefined;
      const simulatorConfig = loadSimulatorConfig();
      const plan = planSimulatorStart({
        nowMs: Date.now(),
        loggedUntilMs: logged?.intradayMs,
        explicitStart: simulatorConfig.SIMULATOR_START,
      });
      if (simulated) say(plan.note);
      if (simulated && plan.refused) {
        if (!wasUp && !config.START_KEEP_STACK) await stack.down(say);
        process.exit(1);
      }
      const supervisor = new Supervisor(
        pipelineStages({
          massiveApiKey: config.MASSIVE_API_KEY,
          simulatorSpeed: config.START_SIMULATOR_SPEED,
          simulatorRate: config.START_SIMULATOR_RATE,
          simulatorStartMs: plan.startMs,
        }),
      );
      supervisor.start();
      const ports = stagePorts();
      if (simulated) {
        // Reference data, daily bars and fundamentals come from REST: the simulator answers those endpoints too.
        const range = dailyBackfillRange(plan.startMs!, logged?.dailyStartMs);
        waitUntil('the simulator', async () => (await fetch(`http://127.0.0.1:${ports.simulator}/health`)).ok, 120_000)
          .then(() =>
            runStartBackfill({
              restUrl: `http://127.0.0.1:${ports.simulator}`,
              apiKey: 'simulator',
              dailyFrom: range.from,
              dailyTo: range.to,
              logger,
            }),
          )
          .then((done) =>
            say(
              `reference data: ${done.symbols} symbols, ${done.dailyBars} daily bars (${range.from} to ${range.to}), ${done.fundamentals} fundamentals, from the simulator's REST side`,
            ),
          )
          .catch((error: unknown) =>
            say(`no reference data (${(error as Error).message}): symbols, sectors, daily bars and fundamentals stay empty`),
          );
      }
      say(
        config.MASSIVE_API_KEY
          ? 'feed: Massive.com (MASSIVE_API_KEY set)'
          : `feed: the embedded Massive-protocol simulator at ${config.START_SIMULATOR_SPEED}x`,
      );
      say(`dashboard:  http://127.0.0.1:${ports.api}/app/   (sign up there; its live feed is /app/live)`);
      say(`API docs:   http://127.0.0.1:${ports.api}/docs   (OpenAPI: http://127.0.0.1:${ports.api}/openapi.json)`);
      say(
        `metrics:    http://127.0.0.1:${ports.api}/metrics, :${ports.gateway}/metrics, :${ports.ingestOps}/metrics (ingest), :${ports.processorOps} (processors), :${ports.projectorOps} (projector)`,
      );
      say('Ctrl-C stops everything');
      supervisor.showStatus(2000, processorLag);
      demoApiKey(
        `http://127.0.0.1:${ports.api}`,
        join(
          repoRoot,
          '.tickflow',
          `demo-${createHash('sha256').update(loadPlatformConfig().DATABASE_URL).digest('hex').slice(0, 12)}.json`,
        ),
      )
        .then(async (key) => {
          // The API can be up before the gateway: a link shown then would be refused for a moment.
          await waitUntil('the gateway', async () => (await fetch(`http://127.0.0.1:${ports.gateway}/health`)).ok, 120_000);
          say(`live feed (as the local demo user): http://127.0.0.1:${ports.api}/app/live#apiKey=${key}`);
          // Market data needs a credential (the demo key has the read and stream scopes).
          say(`API as the demo user: curl -H 'X-API-Key: ${key}' http://127.0.0.1:${ports.api}/api/patterns/scan`);
        })
        .catch((error: unknown) =>
          say(`no demo link (${(error as Error).message}); sign up at http://127.0.0.1:${ports.api}/app/ instead`),
        );
      let stopping = false;
      const stop = async (signal: string, exitCode = 0) => {
        if (stopping) return;
        stopping = true;
        say(`${signal}: stopping the stages`);
        await supervisor.stop();
        if (!wasUp && !config.START_KEEP_STACK) await stack.down(say);
        process.exit(exitCode);
      };
      supervisor.onRefusal = (stage) => void stop(`${stage} refused to start`, 2);
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
