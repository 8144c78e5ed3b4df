import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { loadPlatformConfig } from '../platform/config.js';
import { Lifecycle, exitForRestart } from '../platform/lifecycle.js';
import { createLogger } from '../platform/logger.js';
import { isDbProjectionName, DB_PROJECTION_NAMES } from './core.js';
import { ensureDatabase, migrate, type TimescaleMode } from '../store/migrate.js';
import { loadProjectorConfig, startProjector, type ProjectionName } from './projector.js';
import { rebuildProjection, rebuildRedis } from './rebuild.js';

/** The projections stage's subcommands of the `tickflow` CLI. */
export function registerProjectionCommands(program: Command): void {
  program
    .command('migrate')
    .description('create the database if needed and apply every pending migration (node-pg-migrate; re-running is a no-op)')
    .option('--timescale <mode>', 'auto | on | off (default: PROJECTOR_TIMESCALE)')
    .option('--down', 'undo the last migration instead')
    .action(async (options: { timescale?: string; down?: boolean }) => {
      const platform = loadPlatformConfig();
      const config = loadProjectorConfig();
      const timescale = (options.timescale ?? config.PROJECTOR_TIMESCALE) as TimescaleMode;
      if (!['auto', 'on', 'off'].includes(timescale)) throw new Error(`--timescale must be auto, on or off, not ${timescale}`);
      if (await ensureDatabase(platform.DATABASE_URL)) console.log(`created database ${new URL(platform.DATABASE_URL).pathname.slice(1)}`);
      const ran = await migrate(platform.DATABASE_URL, { timescale, direction: options.down ? 'down' : 'up' });
      console.log(ran.length === 0 ? 'database is up to date' : `${options.down ? 'undid' : 'applied'}: ${ran.join(', ')}`);
    });

  program
    .command('project')
    .description('run the projector: Kafka -> PostgreSQL (COPY, exactly once) and the Redis read model, until SIGTERM')
    .option('--projections <list>', 'comma-separated subset of patterns,bars,reference,redis (default: PROJECTOR_PROJECTIONS)')
    .action(async (options: { projections?: string }) => {
      const platform = loadPlatformConfig();
      const config = loadProjectorConfig();
      const logger = createLogger('projections', { level: platform.LOG_LEVEL });
      const projections = (options.projections?.split(',').map((name) => name.trim()) ?? config.PROJECTOR_PROJECTIONS) as ProjectionName[];
      const lifecycle = new Lifecycle(logger);
      lifecycle.installSignalHandlers();
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
        opsPort: config.PROJECTOR_OPS_PORT,
        clientId: `${platform.KAFKA_CLIENT_ID}-projector`,
        logger,
        onStall: exitForRestart(logger),
      });
      lifecycle.onShutdown('projector', () => handle.stop());
      logger.info({ opsPort: handle.opsPort }, 'projector running; SIGTERM stops it');
    });

  program
    .command('rebuild')
    .description('replay a projection from the start of its topics into fresh tables, then swap them in atomically')
    .argument('<projection>', [...DB_PROJECTION_NAMES, 'redis'].join(' | '))
    .action(async (projection: string) => {
      if (!isDbProjectionName(projection) && projection !== 'redis') throw new Error(`unknown projection ${projection}; one of ${[...DB_PROJECTION_NAMES, 'redis'].join(', ')}`);
      const platform = loadPlatformConfig();
      const logger = createLogger('projections-rebuild', { level: platform.LOG_LEVEL === 'info' ? 'warn' : platform.LOG_LEVEL });
      const bar = new SingleBar({ format: `rebuild ${projection} [{bar}] {percentage}% | {value}/{total} messages | {eta}s left` }, Presets.shades_classic);
      let started = false;
      const onProgress = ({ done, total }: { done: number; total: number }) => {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else bar.update(done);
      };
      const common = { brokers: platform.KAFKA_BROKERS, registryUrl: platform.SCHEMA_REGISTRY_URL, topicPrefix: platform.TOPIC_PREFIX, logger, onProgress };
      const result =
        projection === 'redis'
          ? await rebuildRedis({ ...common, redisUrl: platform.REDIS_URL, redisKeyPrefix: platform.REDIS_KEY_PREFIX })
          : await rebuildProjection({ ...common, databaseUrl: platform.DATABASE_URL, projection });
      if (started) bar.stop();
      console.log(`rebuilt ${projection} from ${result.messages} messages and swapped it in`);
    });
}
