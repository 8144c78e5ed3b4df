/** Shared plumbing used by every stage: config, logging, metrics, lifecycle, Kafka, registry and codec. */
export * from './config.js';
export * from './deployment.js';
export * from './logger.js';
export * from './metrics.js';
export * from './lifecycle.js';
export * from './in-flight.js';
export * from './ops-server.js';
export * from './topics.js';
export * from './kafka.js';
export * from './codec.js';
export * from './auth.js';
export * from './broadcast.js';
export * from './topic-tail.js';
export type * from './records.js';
export * from './event-time.js';
export * from './version.js';
export * from './kafka-settings.js';
export * from './tracked-structures.js';
