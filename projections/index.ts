/** Projections: migrations, the PostgreSQL COPY projector and the Redis read model. */
export { migrate, ensureDatabase, MIGRATIONS_DIR, type MigrateOptions, type TimescaleMode } from '../store/migrate.js';
export * from '../contracts/redis-keys.js';
export { startProjector, loadProjectorConfig, type StartProjectorOptions, type ProjectorHandle, type ProjectionName } from './projector.js';
export {
  rebuildProjection,
  rebuildRedis,
  REBUILD_SUFFIX,
  type RebuildOptions,
  type RedisRebuildOptions,
  type RebuildProgress,
  type RebuildResult,
} from './rebuild.js';
export { DB_PROJECTIONS, DB_PROJECTION_NAMES, OFFSETS_CHANNEL, type DbProjectionName } from './core.js';
export {
  DB_BATCH_STEPS,
  REDIS_BATCH_STEPS,
  type BatchStep,
  type DbBatchStep,
  type RedisBatchStep,
  type FaultHook,
  type FaultContext,
} from './faults.js';
export { REDIS_TOPICS } from './redis-sink.js';
export { patternState, parseSnapshot, type PatternState, type SymbolSnapshot } from '../contracts/redis-model.js';
export type { PatternEventValue, AggregateValue, SymbolValue, FundamentalsValue } from '../contracts/values.js';
