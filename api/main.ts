import { loadAuthConfig, loadPlatformConfig, metricsOnPublicPort, TokenService } from '../platform/index.js';
import { startStageProcess } from '../platform/stage-process.js';
import { migrate } from '../store/migrate.js';
import { loadApiConfig } from './config.js';
import { startApi } from './server.js';

/** What `tickflow api` may override; everything else comes from the env (api/config.ts). */
export interface ApiFlags {
  readonly port?: number;
  readonly migrate?: boolean;
}

/**
 * `tickflow api`: reads the env once, optionally migrates, then starts the REST API with explicit options until
 * SIGTERM. The API serves /health, /ready and /metrics on its own port, so it needs no separate ops server.
 */
export async function runApi(flags: ApiFlags = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const config = loadApiConfig();
  // First: a production process with an unsafe JWT_SECRET refuses before opening any connection.
  const tokens = new TokenService(loadAuthConfig());
  const { logger, lifecycle, registry, serveOps } = startStageProcess('api', { logLevel: platform.LOG_LEVEL });
  if (process.env.API_TRUST_PROXY !== undefined)
    logger.warn('API_TRUST_PROXY is no longer read: set API_TRUST_PROXY_HOPS to the number of proxies in front of the API');
  if (flags.migrate) {
    const ran = await migrate(platform.DATABASE_URL);
    logger.info({ ran }, 'migrations applied');
  }
  // Production: /metrics only on the ops port, not on the public API port (started first, so it closes last).
  const publicMetrics = metricsOnPublicPort();
  if (!publicMetrics) await serveOps({ port: config.API_OPS_PORT });
  const api = await startApi({
    config,
    databaseUrl: platform.DATABASE_URL,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: platform.REDIS_KEY_PREFIX,
    brokers: platform.KAFKA_BROKERS,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    tokens,
    logger,
    registry,
    publicMetrics,
    draining: () => lifecycle.isStopping,
    ...(flags.port !== undefined ? { port: flags.port } : {}),
  });
  lifecycle.onShutdown('api', () => api.stop());
}
