import type { Command } from 'commander';
import { Lifecycle, createLogger, exitForRestart, createMetricsRegistry, loadPlatformConfig, startOpsServer, type TopicKey } from '../platform/index.js';
import { engineOptionsFrom, loadProcessorConfig } from './config.js';
import { PATTERN_CATALOG } from './catalog.js';
import { startProcessor } from './processor.js';
import { processorChecks } from './readiness.js';

/** The processors stage's subcommands of the `tickflow` CLI. */
export function registerProcessorCommands(program: Command): void {
  program
    .command('process')
    .description('run the pattern processors: aggregates (and trades) in, pattern events out, exactly once')
    .option('--group <id>', 'consumer group (overrides PROCESSOR_GROUP_ID)')
    .option('--ops-port <port>', 'port of /health /ready /metrics (overrides PROCESSOR_OPS_PORT)')
    .action(async (options: { group?: string; opsPort?: string }) => {
      const platform = loadPlatformConfig();
      const config = loadProcessorConfig();
      const logger = createLogger('processors', { level: platform.LOG_LEVEL });
      const registry = createMetricsRegistry('processors');
      const lifecycle = new Lifecycle(logger);
      lifecycle.installSignalHandlers();
      const processor = await startProcessor({
        brokers: platform.KAFKA_BROKERS,
        registryUrl: platform.SCHEMA_REGISTRY_URL,
        topicPrefix: platform.TOPIC_PREFIX,
        groupId: options.group ?? config.PROCESSOR_GROUP_ID,
        inputs: config.PROCESSOR_INPUTS as TopicKey[],
        engine: engineOptionsFrom(config, platform.BENCHMARK_SYMBOL),
        logger,
        metrics: registry,
        useFundamentals: config.PROCESSOR_USE_FUNDAMENTALS,
        tradeBars: config.PROCESSOR_TRADE_BARS,
        tradeBarLatenessMs: config.PROCESSOR_TRADE_BAR_LATENESS_MS,
        maxEventTimeSkewMs: config.PROCESSOR_MAX_EVENT_TIME_SKEW_HOURS * 3_600_000,
        snapshotEveryRecords: config.PROCESSOR_SNAPSHOT_EVERY_RECORDS,
        snapshotMaxBytes: config.PROCESSOR_SNAPSHOT_MAX_BYTES,
        maxRecordsPerTransaction: config.PROCESSOR_MAX_RECORDS_PER_TRANSACTION,
        stallTimeoutMs: config.PROCESSOR_STALL_TIMEOUT_MS,
        onStall: exitForRestart(logger),
      });
      lifecycle.onShutdown('processor', () => processor.stop());
      const ops = await startOpsServer({
        port: options.opsPort ? Number(options.opsPort) : config.PROCESSOR_OPS_PORT,
        registry,
        checks: processorChecks(processor),
      });
      lifecycle.onShutdown('ops-server', () => ops.close());
      logger.info({ opsPort: ops.port }, 'processors running');
    });

  program
    .command('patterns')
    .description('list the pattern catalog (name, version, tiers, definition)')
    .action(() => {
      process.stdout.write(PATTERN_CATALOG.map((entry) => `${entry.name.padEnd(28)} v${entry.version}  ${entry.tiers.join('/').padEnd(15)} ${entry.summary}\n`).join(''));
    });
}
