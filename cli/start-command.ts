import type { Command } from 'commander';
import { defineEnv, env } from '../platform/config.js';
import { loadMassiveConfig } from '../ingest/index.js';
import { LocalStack } from '../stack/local-stack.js';
import { setupPipeline } from './setup-command.js';
import { Supervisor, type StageSpec } from './supervisor.js';

export const loadStartConfig = defineEnv('start', {
  START_SIMULATOR_SPEED: env.number('Simulated seconds per real second for the embedded simulator of `npm start` (60: a minute bar every second)', 60),
  START_SIMULATOR_RATE: env.int('Trades + quotes per second of the embedded simulator of `npm start`', 5000),
  START_KEEP_STACK: env.bool('Leave Kafka and the registry running when `npm start` stops', false),
});

/** The stages `npm start` runs, in start order (stopped in reverse). */
export function pipelineStages(options: { massiveApiKey: string | undefined; simulatorSpeed: number; simulatorRate: number }): StageSpec[] {
  const live = options.massiveApiKey !== undefined;
  const simulatorPort = '8765';
  const stages: StageSpec[] = [];
  if (!live) {
    stages.push({
      name: 'simulator',
      args: ['simulator'],
      env: { SIMULATOR_PORT: simulatorPort, SIMULATOR_SPEED: String(options.simulatorSpeed), SIMULATOR_RATE: String(options.simulatorRate) },
      metricsUrl: `http://127.0.0.1:${simulatorPort}/metrics`,
      eventsMetrics: ['tickflow_simulator_events_generated_total'],
    });
  }
  stages.push(
    {
      // The live Massive source; with the simulator only its URL changes.
      name: 'ingest',
      args: ['ingest', '--source', 'massive'],
      env: live ? {} : { MASSIVE_WS_URL: `ws://127.0.0.1:${simulatorPort}`, MASSIVE_API_KEY: 'simulator' },
      metricsUrl: 'http://127.0.0.1:9464/metrics',
      eventsMetrics: ['tickflow_ingest_events_out_total'],
    },
    {
      name: 'processors',
      args: ['process'],
      metricsUrl: 'http://127.0.0.1:9465/metrics',
      eventsMetrics: ['tickflow_processor_input_events_total'],
      lagMetrics: ['tickflow_processor_consumer_lag'],
      patternsMetrics: ['tickflow_processor_pattern_events_total'],
    },
    {
      name: 'projector',
      args: ['project'],
      metricsUrl: 'http://127.0.0.1:9466/metrics',
      eventsMetrics: ['tickflow_projector_events_applied_total'],
      lagMetrics: ['tickflow_projector_consumer_lag'],
    },
    { name: 'gateway', args: ['gateway'], metricsUrl: 'http://127.0.0.1:3001/metrics', eventsMetrics: ['tickflow_gateway_events_delivered_total'] },
    { name: 'api', args: ['api'], metricsUrl: 'http://127.0.0.1:3000/metrics', eventsMetrics: ['tickflow_api_requests_total'] },
  );
  return stages;
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the whole pipeline: stack, topics, migrations, simulator (or the real feed with MASSIVE_API_KEY) and every stage, supervised')
    .action(async () => {
      const config = { ...loadStartConfig(), MASSIVE_API_KEY: loadMassiveConfig().MASSIVE_API_KEY };
      const say = (line: string) => console.log(`[start]      ${line}`);
      const stack = new LocalStack();
      const wasUp = (await stack.status()).filter((server) => server.name === 'kafka' || server.name === 'registry').every((server) => server.up);
      await stack.up(say);
      await setupPipeline(say);
      const supervisor = new Supervisor(
        pipelineStages({ massiveApiKey: config.MASSIVE_API_KEY, simulatorSpeed: config.START_SIMULATOR_SPEED, simulatorRate: config.START_SIMULATOR_RATE }),
      );
      supervisor.start();
      say(config.MASSIVE_API_KEY ? 'feed: Massive.com (MASSIVE_API_KEY set)' : `feed: the embedded Massive-protocol simulator at ${config.START_SIMULATOR_SPEED}x`);
      say('live page:  http://127.0.0.1:3001/');
      say('API docs:   http://127.0.0.1:3000/docs   (OpenAPI: http://127.0.0.1:3000/openapi.json)');
      say('metrics:    http://127.0.0.1:3000/metrics, :3001/metrics, :9464/metrics (ingest), :9465 (processors), :9466 (projector)');
      say('Ctrl-C stops everything');
      supervisor.showStatus();
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        say(`${signal}: stopping the stages`);
        await supervisor.stop();
        if (!wasUp && !config.START_KEEP_STACK) await stack.down(say);
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
