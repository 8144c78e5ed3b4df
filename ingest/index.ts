/** Ingest: Massive live feed, simulator, REST backfill and flat files -> Kafka. */
export { startIngest, type IngestHandle, type IngestOptions } from './live.js';
export { startSimulator, type SimulatorHandle, type SimulatorOptions } from './simulator/server.js';
export { SessionClock, resumeAfter } from './simulator/session-clock.js';
export { IngestCore, type FrameOutcome } from './core.js';
export { DuplicateFilter } from './dedup.js';
export { KafkaSink } from './sink.js';
export { createIngestMetrics, type IngestMetrics } from './metrics.js';
export { loadIngestConfig, loadMassiveConfig, loadSimulatorConfig, subscriptionParams } from './config.js';
export type * from './records.js';
export { loggedFeedTimes, runStartBackfill } from './main.js';
