import { loadPlatformConfig, metricsOnPublicPort } from '../platform/index.js';
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
 * `tickflow api`: optionally migrates, then starts the REST API until SIGTERM. The API serves /health, /ready and
 * /metrics on its own port, so it needs no separate ops server.
 */
export async function runApi(flags: ApiFlags = {}): Promise<void> {
  const platform = loadPlatformConfig();
  const { logger, lifecycle, registry, serveOps } = startStageProcess('api', { logLevel: platform.LOG_LEVEL });
  if (flags.migrate) {
    const ran = await migrate(platform.DATABASE_URL);
    logger.info({ ran }, 'migrations applied');
  }
  // Production: /metrics only on the ops port, not on the public API port (started first, so it closes last).
  if (!metricsOnPublicPort()) await serveOps({ port: loadApiConfig().API_OPS_PORT });
  const api = await startApi({
    logger,
    registry,
    draining: () => lifecycle.isStopping,
    ...(flags.port !== undefined ? { port: flags.port } : {}),
  });
  lifecycle.onShutdown('api', () => api.stop());
}
