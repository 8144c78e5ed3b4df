import { z } from 'zod';
import { ConfigError, defineEnv, env, type EnvSource } from './config.js';

/**
 * Development or production. Production turns the conveniences of a laptop run into refusals: no default or short
 * JWT_SECRET, an explicit ingest source, /metrics only on the ops ports. A stage refuses to start (ConfigError, exit
 * 2) rather than run with a setting a deployment should never have.
 */
export const loadDeploymentConfig = defineEnv('platform', {
  NODE_ENV: z.string().optional().describe('`production` selects TICKFLOW_ENV=production unless TICKFLOW_ENV says otherwise'),
  TICKFLOW_ENV: z
    .enum(['development', 'production'])
    .optional()
    .describe(
      'production: refuse the default or a short JWT_SECRET, require INGEST_SOURCE, serve /metrics on the ops ports only (default: production when NODE_ENV=production, else development)',
    ),
  METRICS_ON_PUBLIC_PORT: z
    .enum(['auto', 'true', 'false'])
    .default('auto')
    .describe(
      'Serve /metrics on the public API and gateway ports too (auto: in development only); otherwise on API_OPS_PORT / GATEWAY_OPS_PORT',
    ),
  DRAIN_DELAY_MS: env.int(
    'On SIGTERM, /ready answers 503 for this long before the stage stops taking work (let a load balancer see it first)',
    0,
  ),
});

export function isProduction(source: EnvSource = process.env): boolean {
  const config = loadDeploymentConfig(source);
  return (config.TICKFLOW_ENV ?? (config.NODE_ENV === 'production' ? 'production' : 'development')) === 'production';
}

/** Whether the API and the gateway also serve /metrics on their public port. */
export function metricsOnPublicPort(source: EnvSource = process.env): boolean {
  const setting = loadDeploymentConfig(source).METRICS_ON_PUBLIC_PORT;
  return setting === 'auto' ? !isProduction(source) : setting === 'true';
}

/** The shortest JWT_SECRET production accepts: 32 characters, 256 bits of HS256 key if random. */
export const MIN_PRODUCTION_SECRET_LENGTH = 32;

/**
 * In production, a variable that has a development default must be set explicitly (the default is published in
 * this repository); throws ConfigError naming it.
 */
export function requireExplicitInProduction(source: EnvSource, name: string, allowed: string): void {
  if (isProduction(source) && !source[name]) throw new ConfigError([`${name}: must be set explicitly in production (${allowed})`]);
}
