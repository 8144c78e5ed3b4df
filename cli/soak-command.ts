import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createKafka, createLogger, loadPlatformConfig, TOPIC_KEYS, topicName } from '../platform/index.js';
import { LocalStack } from '../stack/local-stack.js';
import { describeTopics } from '../platform/describe-topics.js';
import { setupPipeline } from './setup-command.js';
import { memoryReport, parseDuration, type MemorySample } from './soak-core.js';
import { pipelineStages } from './start-command.js';
import { sumMetric } from '../platform/metrics-exposition.js';
import { Supervisor } from './supervisor.js';
import { demoApiKey } from './demo-access.js';
import { stagePorts } from './start-command.js';
import { TickflowClient, type WebSocketFactory } from '../gateway/client/index.js';
import WebSocket from 'ws';

function rssBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
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
    .action(async (options: { rate: string; duration: string; sample: string; speed: string; out: string }) => {
      const durationMs = parseDuration(options.duration);
      const sampleMs = parseDuration(options.sample);
      const stack = new LocalStack();
      await stack.up((line) => console.log(`[soak] ${line}`));
      await setupPipeline((line) => console.log(`[soak] ${line}`));
      const stages = pipelineStages({
        massiveApiKey: undefined,
        simulatorSpeed: Number(options.speed),
        simulatorRate: Number(options.rate),
      });
      const quiet = (line: string) => {
        if (/ (WARN|ERROR|FATAL) |crashed/.test(line)) console.log(line);
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
      const startedAt = Date.now();
      console.log(`[soak] running ${options.duration} at ${options.rate} events/s, sampling every ${options.sample}`);
      while (Date.now() - startedAt < durationMs && !stopRequested) {
        await new Promise((resolve) => setTimeout(resolve, sampleMs));
        const pids = supervisor.pids();
        for (const stage of stages) {
          const pid = pids[stage.name];
          const rss = pid === undefined ? undefined : rssBytes(pid);
          let heap: number | undefined;
          if (stage.metricsUrl) {
            try {
              const text = await (await fetch(stage.metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
              heap = sumMetric(text, ['tickflow_nodejs_heap_size_used_bytes']);
              counts.set(stage.name, stage.eventsMetrics ? sumMetric(text, stage.eventsMetrics) : undefined);
            } catch {
              // a stage between restarts has no metrics; its RSS sample still counts
            }
          }
          if (rss !== undefined)
            memory
              .get(stage.name)!
              .push({ atMs: Date.now() - startedAt, rssBytes: rss, ...(heap === undefined ? {} : { heapUsedBytes: heap }) });
        }
        const elapsed = ((Date.now() - startedAt) / 60_000).toFixed(1);
        console.log(
          `[soak] ${elapsed} min: ${[...counts].map(([stage, count]) => `${stage}=${count ?? '-'}`).join(' ')} client=${users.gatewayEvents} api=${users.apiOk}/${users.apiRequests}`,
        );
      }
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
      const report = {
        command: `npx tickflow soak --rate ${options.rate} --duration ${options.duration} --sample ${options.sample} --speed ${options.speed}`,
        durationMs: Date.now() - startedAt,
        memory: stages.map((stage) => memoryReport(stage.name, memory.get(stage.name)!)),
        events: Object.fromEntries(counts),
        users: { gatewayEventsReceived: users.gatewayEvents, apiRequests: users.apiRequests, apiOk: users.apiOk },
        restarts,
        finalLag: lag,
      };
      mkdirSync(options.out.replace(/\/[^/]*$/, ''), { recursive: true });
      writeFileSync(options.out, JSON.stringify(report, null, 2));
      console.log(JSON.stringify(report, null, 2));
    });
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
