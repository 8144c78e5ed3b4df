import { exitForRestart, loadPlatformConfig, type TopicKey } from '../platform/index.js';
import { startStageProcess } from '../platform/stage-process.js';
import { engineOptionsFrom, sideTableLimitsFrom, loadProcessorConfig } from './config.js';
import { startProcessor } from './processor.js';
import { processorChecks } from './readiness.js';

/** What `tickflow process` may override; everything else comes from the env (processors/config.ts). */
export interface ProcessorFlags {
  readonly group?: string;
  readonly opsPort?: number;
}

/** `tickflow process`: reads the env once, starts the processors and their ops server, until SIGTERM. */
export async function runProcessors(flags: ProcessorFlags = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const config = loadProcessorConfig();
  const { logger, registry, lifecycle, serveOps } = startStageProcess('processors', { logLevel: platform.LOG_LEVEL });
  const processor = await startProcessor({
    brokers: platform.KAFKA_BROKERS,
    registryUrl: platform.SCHEMA_REGISTRY_URL,
    topicPrefix: platform.TOPIC_PREFIX,
    groupId: flags.group ?? config.PROCESSOR_GROUP_ID,
    inputs: config.PROCESSOR_INPUTS as TopicKey[],
    engine: engineOptionsFrom(config, platform.BENCHMARK_SYMBOL),
    sideTableLimits: sideTableLimitsFrom(config),
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
  const opsPort = await serveOps({ port: flags.opsPort ?? config.PROCESSOR_OPS_PORT, checks: processorChecks(processor) });
  logger.info({ opsPort }, 'processors running');
}
