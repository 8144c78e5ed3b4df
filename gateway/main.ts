import { TokenService, loadAuthConfig, loadPlatformConfig, metricsOnPublicPort } from '../platform/index.js';
import { startStageProcess } from '../platform/stage-process.js';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './index.js';
import type { StreamName } from './types.js';

/** What `tickflow gateway` may override; everything else comes from the env (gateway/config.ts). */
export interface GatewayFlags {
  readonly port?: number;
  readonly host?: string;
  readonly streams?: readonly StreamName[];
}

/**
 * `tickflow gateway`: reads the env once and starts the gateway with explicit options, until SIGTERM. The gateway
 * serves /health, /ready and /metrics on its own port (uWS), so it needs no separate ops server.
 */
export async function runGateway(flags: GatewayFlags = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const config = {
    ...loadGatewayConfig(),
    ...(flags.port !== undefined ? { GATEWAY_PORT: flags.port } : {}),
    ...(flags.host ? { GATEWAY_HOST: flags.host } : {}),
  };
  const { logger, lifecycle, registry, serveOps } = startStageProcess('gateway', { logLevel: platform.LOG_LEVEL });
  // Production: /metrics only on the ops port, not on the public gateway port (started first, so it closes last).
  const publicMetrics = metricsOnPublicPort();
  if (!publicMetrics) await serveOps({ port: config.GATEWAY_OPS_PORT });
  const gateway = await startGateway({
    logger,
    config,
    topicPrefix: platform.TOPIC_PREFIX,
    brokers: platform.KAFKA_BROKERS,
    registryUrl: platform.SCHEMA_REGISTRY_URL,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    databaseUrl: platform.DATABASE_URL,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: platform.REDIS_KEY_PREFIX,
    tokens: new TokenService(loadAuthConfig()),
    registry,
    publicMetrics,
    draining: () => lifecycle.isStopping,
    ...(flags.streams ? { streams: flags.streams } : {}),
  });
  lifecycle.onShutdown('gateway', () => gateway.stop());
  console.log(`gateway listening on ${gateway.url} (the live feed is the dashboard's: /app/live on the API)`);
}
