import { SingleBar, Presets } from 'cli-progress';
import { exitForRestart, loadPlatformConfig } from '../platform/index.js';
import { createLogger } from '../platform/logger.js';
import { startStageProcess } from '../platform/stage-process.js';
import { ensureDatabase, migrate, type TimescaleMode } from '../store/migrate.js';
import { loadProjectorConfig } from './config.js';
import type { DbProjectionName } from './core.js';
import { startProjector, type ProjectionName } from './projector.js';
import { rebuildProjection, rebuildRedis } from './rebuild.js';

/** `tickflow migrate`: creates the database if needed and applies (or undoes) migrations. */
export async function runMigrate(flags: { readonly timescale?: string; readonly down?: boolean } = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const config = loadProjectorConfig();
  const timescale = (flags.timescale ?? config.PROJECTOR_TIMESCALE) as TimescaleMode;
  if (!['auto', 'on', 'off'].includes(timescale)) throw new Error(`--timescale must be auto, on or off, not ${timescale}`);
  if (await ensureDatabase(platform.DATABASE_URL)) console.log(`created database ${new URL(platform.DATABASE_URL).pathname.slice(1)}`);
  const ran = await migrate(platform.DATABASE_URL, { timescale, direction: flags.down ? 'down' : 'up' });
  console.log(ran.length === 0 ? 'database is up to date' : `${flags.down ? 'undid' : 'applied'}: ${ran.join(', ')}`);
}

/**
 * `tickflow project`: reads the env once, migrates, and runs the projector until SIGTERM, with its ops server
 * (/ready runs the projector's checks) on PROJECTOR_OPS_PORT.
 */
export async function runProjector(flags: { readonly projections?: readonly string[] } = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const config = loadProjectorConfig();
  const projections = (flags.projections ?? config.PROJECTOR_PROJECTIONS) as ProjectionName[];
  const { logger, registry, lifecycle, serveOps } = startStageProcess('projections', { logLevel: platform.LOG_LEVEL });
  await ensureDatabase(platform.DATABASE_URL);
  await migrate(platform.DATABASE_URL, { timescale: config.PROJECTOR_TIMESCALE });
  const handle = await startProjector({
    databaseUrl: platform.DATABASE_URL,
    brokers: platform.KAFKA_BROKERS,
    registryUrl: platform.SCHEMA_REGISTRY_URL,
    topicPrefix: platform.TOPIC_PREFIX,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: platform.REDIS_KEY_PREFIX,
    projections,
    groupPrefix: `${platform.TOPIC_PREFIX}${config.PROJECTOR_GROUP_PREFIX}`,
    poolSize: config.PROJECTOR_POOL_SIZE,
    redisMaxInFlight: config.PROJECTOR_REDIS_MAX_IN_FLIGHT,
    clientId: `${platform.KAFKA_CLIENT_ID}-projector`,
    logger,
    registry,
    onStall: exitForRestart(logger),
  });
  lifecycle.onShutdown('projector', () => handle.stop());
  const opsPort = await serveOps({ port: config.PROJECTOR_OPS_PORT, checks: handle.checks });
  logger.info({ opsPort }, 'projector running; SIGTERM stops it');
}

/** `tickflow rebuild <projection>`: replays a projection into fresh tables (or Redis keys) with a progress bar. */
export async function runRebuild(projection: DbProjectionName | 'redis'): Promise<void> {
  const platform = loadPlatformConfig();
  const logger = createLogger('projections-rebuild', { level: platform.LOG_LEVEL === 'info' ? 'warn' : platform.LOG_LEVEL });
  const bar = new SingleBar(
    { format: `rebuild ${projection} [{bar}] {percentage}% | {value}/{total} messages | {eta}s left` },
    Presets.shades_classic,
  );
  let started = false;
  const onProgress = ({ done, total }: { done: number; total: number }) => {
    if (!started) {
      bar.start(total, done);
      started = true;
    } else bar.update(done);
  };
  const common = {
    brokers: platform.KAFKA_BROKERS,
    registryUrl: platform.SCHEMA_REGISTRY_URL,
    topicPrefix: platform.TOPIC_PREFIX,
    logger,
    onProgress,
  };
  const result =
    projection === 'redis'
      ? await rebuildRedis({
          ...common,
          redisUrl: platform.REDIS_URL,
          redisKeyPrefix: platform.REDIS_KEY_PREFIX,
          maxCommandsInFlight: loadProjectorConfig().PROJECTOR_REDIS_MAX_IN_FLIGHT,
        })
      : await rebuildProjection({ ...common, databaseUrl: platform.DATABASE_URL, projection });
  if (started) bar.stop();
  console.log(`rebuilt ${projection} from ${result.messages} messages and swapped it in`);
}
