import { readFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { readTrackedStructures, overCap, type TrackedReading } from '../platform/tracked-structures.js';
import { heapGrowth, readHeapSnapshot } from './heap-snapshot.js';
import { createKafka, createLogger, loadPlatformConfig, TOPIC_KEYS, topicName } from '../platform/index.js';
import { LocalStack } from '../stack/local-stack.js';
import { describeTopics } from '../platform/describe-topics.js';
import { setupPipeline } from './setup-command.js';
import { isLoudLine, loadSoakConfig, memoryReport, missingCaps, parseDuration, quietFailures, type MemorySample } from './soak-core.js';
import { pipelineStages } from './start-command.js';
import { sumMetric } from '../platform/metrics-exposition.js';
import { Supervisor } from './supervisor.js';
import { demoApiKey } from './demo-access.js';
import { stagePorts } from './start-command.js';
import { TickflowClient, type WebSocketFactory } from '../gateway/client/index.js';
import WebSocket from 'ws';

/** Resident set size of a process (VmRSS), in bytes; undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Stage processes of a soak with --heap-snapshots write a snapshot on SIGUSR2 (Node's own handler), into `dir`. */
function snapshotNodeOptions(dir: string): string {
  return [process.env.NODE_OPTIONS, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`].filter(Boolean).join(' ');
}

export function registerSoakCommand(program: Command): void {
  program
    .command('soak')
    .description(
      "run the whole pipeline at a fixed simulator rate, sampling each process's RSS and heap; report growth per hour, counts and final lag",
    )
    .option('--rate <n>', 'simulator trades+quotes per second', '2000')
    .option('--duration <d>', 'e.g. 90s, 30m, 24h', '30m')
    .option('--sample <d>', 'sampling interval', '10s')
    .option('--speed <n>', 'simulated seconds per real second', '60')
    .option('--out <file>', 'JSON report', 'bench/results/soak.json')
    .addOption(new Option('--max-slope <MiB/h>', 'flag a stage whose heap slope is above this').env('SOAK_MAX_HEAP_SLOPE_MIB_PER_HOUR'))
    .option('--check-caps', "exit non-zero if a stage's tracked structures ever exceed their caps (the CI memory check)")
    .option('--check-quiet', 'exit non-zero if a stage logged a line at WARN or above, or restarted (the CI memory check)')
    .option(
      '--heap-snapshots <times>',
      'take a heap snapshot of every stage at these elapsed times (e.g. 4m,20m) and compare the first with the last',
    )
    .action(async (options: SoakOptions) => {
      const durationMs = parseDuration(options.duration);
      const sampleMs = parseDuration(options.sample);
      const maxSlope = options.maxSlope === undefined ? loadSoakConfig().SOAK_MAX_HEAP_SLOPE_MIB_PER_HOUR : Number(options.maxSlope);
      const snapshotTimes = (options.heapSnapshots?.split(',') ?? []).map(parseDuration).sort((a, b) => a - b);
      const snapshotDir = resolve(`.tickflow/soak-heap/${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const stack = new LocalStack();
      await stack.up((line) => console.log(`[soak] ${line}`));
      await setupPipeline((line) => console.log(`[soak] ${line}`));
      const stages = pipelineStages({
        massiveApiKey: undefined,
        simulatorSpeed: Number(options.speed),
        simulatorRate: Number(options.rate),
      }).map((stage) => {
        if (snapshotTimes.length === 0) return stage;
        mkdirSync(join(snapshotDir, stage.name), { recursive: true });
        return { ...stage, env: { ...stage.env, NODE_OPTIONS: snapshotNodeOptions(join(snapshotDir, stage.name)) } };
      });
      const loudLines: string[] = [];
      let loudCount = 0;
      const quiet = (line: string) => {
        if (!isLoudLine(line)) return;
        console.log(line);
        loudCount += 1;
        if (loudLines.length < 20) loudLines.push(line);
      };
      const supervisor = new Supervisor(stages, quiet);
      supervisor.start();
      // Ctrl-C or SIGTERM ends a soak early, but still stops every stage (their process groups are detached).
      let stopRequested = false;
      const requestStop = () => {
        stopRequested = true;
      };
      process.once('SIGINT', requestStop);
      process.once('SIGTERM', requestStop);
      const users = await startSoakUsers(stagePorts());
      const memory = new Map<string, MemorySample[]>(stages.map((stage) => [stage.name, []]));
      const counts = new Map<string, number | undefined>();
      const tracked = new Map<string, TrackedReading[]>();
      const trackedOverCap: (TrackedReading & { stage: string; atMs: number })[] = [];
      const pendingSnapshots = [...snapshotTimes];
      let snapshotting = Promise.resolve();
      const startedAt = Date.now();
      console.log(`[soak] running ${options.duration} at ${options.rate} events/s, sampling every ${options.sample}`);
      while (Date.now() - startedAt < durationMs && !stopRequested) {
        await new Promise((resolve) => setTimeout(resolve, sampleMs));
        const pids = supervisor.pids();
        for (const stage of stages) {
          const pid = pids[stage.name];
          const rss = pid === undefined ? undefined : rssBytes(pid);
          let heap: number | undefined;
          let liveHeap: number | undefined;
          if (stage.metricsUrl) {
            try {
              const text = await (await fetch(stage.metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
              heap = sumMetric(text, ['tickflow_nodejs_heap_size_used_bytes']);
              liveHeap = sumMetric(text, ['tickflow_nodejs_heap_after_major_gc_bytes']);
              counts.set(stage.name, stage.eventsMetrics ? sumMetric(text, stage.eventsMetrics) : undefined);
              const readings = readTrackedStructures(text);
              tracked.set(stage.name, readings);
              for (const reading of overCap(readings)) trackedOverCap.push({ ...reading, stage: stage.name, atMs: Date.now() - startedAt });
            } catch {
              // a stage between restarts has no metrics; its RSS sample still counts
            }
          }
          if (rss !== undefined)
            memory.get(stage.name)!.push({
              atMs: Date.now() - startedAt,
              rssBytes: rss,
              ...(heap === undefined ? {} : { heapUsedBytes: heap }),
              ...(liveHeap === undefined ? {} : { liveHeapBytes: liveHeap }),
            });
        }
        while (pendingSnapshots.length > 0 && Date.now() - startedAt >= pendingSnapshots[0]!) {
          pendingSnapshots.shift();
          // One stage at a time: a snapshot pauses its process for seconds, and a paused ingest makes the simulator
          // buffer frames, which its own snapshot would then hold.
          snapshotting = snapshotting.then(async () => {
            for (const [name, pid] of Object.entries(supervisor.pids())) {
              if (pid === undefined) continue;
              process.kill(pid, 'SIGUSR2');
              console.log(`[soak] heap snapshot of ${name} requested (${snapshotDir})`);
              await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_SPACING_MS));
            }
          });
        }
        const elapsed = ((Date.now() - startedAt) / 60_000).toFixed(1);
        console.log(
          `[soak] ${elapsed} min: ${[...counts].map(([stage, count]) => `${stage}=${count ?? '-'}`).join(' ')} client=${users.gatewayEvents} api=${users.apiOk}/${users.apiRequests}`,
        );
      }
      await snapshotting;
      const config = loadPlatformConfig();
      const admin = createKafka({
        brokers: config.KAFKA_BROKERS,
        clientId: 'tickflow-soak',
        logger: createLogger('soak', { level: 'warn' }),
      }).admin();
      await admin.connect();
      const lag = (
        await describeTopics(
          admin,
          TOPIC_KEYS.map((key) => topicName(key, config.TOPIC_PREFIX)),
        )
      ).flatMap((topic) => topic.groups.map((group) => ({ topic: topic.topic, group: group.groupId, lag: group.lag })));
      await admin.disconnect();
      users.stop();
      const restarts = Object.fromEntries(stages.map((stage) => [stage.name, supervisor.restarts(stage.name)]));
      await supervisor.stop();
      const memoryReports = stages.map((stage) => memoryReport(stage.name, memory.get(stage.name)!, maxSlope));
      const report = {
        command: `npx tickflow soak --rate ${options.rate} --duration ${options.duration} --sample ${options.sample} --speed ${options.speed}`,
        durationMs: Date.now() - startedAt,
        maxHeapSlopeMiBPerHour: maxSlope,
        memory: memoryReports,
        flagged: memoryReports.filter((entry) => entry.flagged).map((entry) => entry.stage),
        tracked: Object.fromEntries(tracked),
        trackedOverCap,
        heapSnapshots:
          snapshotTimes.length > 0
            ? compareSnapshots(
                snapshotDir,
                stages.map((stage) => stage.name),
              )
            : undefined,
        events: Object.fromEntries(counts),
        users: { gatewayEventsReceived: users.gatewayEvents, apiRequests: users.apiRequests, apiOk: users.apiOk },
        restarts,
        loud: { lines: loudCount, first: loudLines },
        finalLag: lag,
      };
      mkdirSync(options.out.replace(/\/[^/]*$/, ''), { recursive: true });
      writeFileSync(options.out, JSON.stringify(report, null, 2));
      console.log(JSON.stringify(report, null, 2));
      console.log(formatMemoryTable(memoryReports));
      if (options.checkCaps) {
        const missing = missingCaps(
          tracked,
          stages.map((stage) => stage.name),
        );
        if (trackedOverCap.length > 0 || missing.length > 0) {
          console.log(
            `[soak] FAILED the cap check: over cap ${JSON.stringify(trackedOverCap)}; not reported with a cap: ${missing.join(', ') || 'none'}`,
          );
          process.exitCode = 1;
        } else console.log('[soak] every tracked structure stayed within its cap');
      }
      if (options.checkQuiet) {
        const failures = quietFailures(loudCount, restarts);
        if (failures.length > 0) {
          console.log(`[soak] FAILED the quiet check (normal operation logs nothing at WARN or above): ${failures.join('; ')}`);
          process.exitCode = 1;
        } else console.log('[soak] no stage logged at WARN or above, none restarted');
      }
    });
}

interface SoakOptions {
  rate: string;
  duration: string;
  sample: string;
  speed: string;
  out: string;
  maxSlope?: string;
  heapSnapshots?: string;
  checkCaps?: boolean;
  checkQuiet?: boolean;
}

const SNAPSHOT_SPACING_MS = 20_000;

/** Per stage: the first snapshot against the last one (constructors and collections that grew most). */
function compareSnapshots(dir: string, stageNames: readonly string[]) {
  return Object.fromEntries(
    stageNames.map((name) => {
      const files = readdirSync(join(dir, name))
        .filter((file) => file.endsWith('.heapsnapshot'))
        .sort();
      if (files.length < 2) return [name, { files }];
      const first = readHeapSnapshot(join(dir, name, files[0]!));
      const last = readHeapSnapshot(join(dir, name, files[files.length - 1]!));
      return [
        name,
        {
          files: [files[0], files[files.length - 1]],
          totalMiB: [first.totalBytes / 2 ** 20, last.totalBytes / 2 ** 20],
          constructors: heapGrowth(first.byConstructor, last.byConstructor, 12),
          collections: heapGrowth(first.collections, last.collections, 12),
        },
      ];
    }),
  );
}

function formatMemoryTable(reports: readonly ReturnType<typeof memoryReport>[]): string {
  const fixed = (value: number | undefined, digits = 1) => (value === undefined ? '-' : value.toFixed(digits));
  return [
    '| stage | heap measure | heap after warm-up (MiB) | heap end (MiB) | heap slope, last 2/3 (MiB/h, ± 95 % CI) | verdict | flagged | heap-used slope (MiB/h) | RSS start → end (MiB) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...reports.map(
      (entry) =>
        `| ${entry.stage} | ${entry.heapMeasure ?? '-'} | ${fixed(entry.heapAfterWarmUpMiB)} | ${fixed(entry.heapEndMiB)} | ${fixed(entry.heapGrowthMiBPerHour, 2)} ± ${fixed(entry.heapGrowthCiMiBPerHour, 2)} | ${entry.heapVerdict ?? '-'} | ${entry.flagged ? 'yes' : 'no'} | ${fixed(entry.heapUsedGrowthMiBPerHour, 1)} | ${fixed(entry.rssStartMiB, 0)} → ${fixed(entry.rssEndMiB, 0)} |`,
    ),
  ].join('\n');
}

interface SoakUsers {
  gatewayEvents: number;
  apiRequests: number;
  apiOk: number;
  stop(): void;
}

/**
 * What a soak needs besides the feed: a live-page-like gateway client following every pattern event, and a
 * dashboard polling a scan every second, so the gateway's rings and the API's cache see real traffic.
 */
async function startSoakUsers(ports: ReturnType<typeof stagePorts>): Promise<SoakUsers> {
  const apiBase = `http://127.0.0.1:${ports.api}`;
  const apiKey = await demoApiKey(apiBase, `.tickflow/soak-${process.pid}.json`);
  const client = new TickflowClient({
    url: `ws://127.0.0.1:${ports.gateway}/ws`,
    auth: { apiKey },
    WebSocket: WebSocket as unknown as WebSocketFactory,
  });
  const users: SoakUsers = { gatewayEvents: 0, apiRequests: 0, apiOk: 0, stop: () => undefined };
  const subscription = client.subscribe({ stream: 'patterns', window: 1000 });
  await client.connect();
  void (async () => {
    for await (const event of subscription) {
      void event;
      users.gatewayEvents += 1;
    }
  })().catch((error: unknown) => console.log(`[soak] gateway client ended: ${(error as Error).message}`));
  const views = [
    '/api/patterns/scan?per_page=50',
    '/api/patterns/scan?timeframe=intraday&sort_by=detected_at',
    '/api/patterns/stats',
    '/api/symbols?limit=20',
  ];
  const poll = setInterval(() => {
    const path = views[users.apiRequests % views.length]!;
    users.apiRequests += 1;
    fetch(`${apiBase}${path}`, { headers: { 'x-api-key': apiKey }, signal: AbortSignal.timeout(5000) })
      .then(async (response) => {
        await response.arrayBuffer();
        if (response.ok) users.apiOk += 1;
      })
      .catch(() => undefined);
  }, 1000);
  users.stop = () => {
    clearInterval(poll);
    client.close();
  };
  return users;
}
