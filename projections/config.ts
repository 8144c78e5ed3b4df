import { z } from 'zod';
import { defineEnv, env } from '../platform/config.js';

/** The projector's own settings; connection strings come from the platform config. */
export const loadProjectorConfig = defineEnv('projections', {
  PROJECTOR_OPS_PORT: env.int('Port of the projector ops server (/health /ready /metrics)', 9466),
  PROJECTOR_POOL_SIZE: env.int('Maximum PostgreSQL connections of the projector pool', 4),
  PROJECTOR_PROJECTIONS: env.list('Projections to run: patterns, bars, reference, redis', 'patterns,bars,reference,redis'),
  PROJECTOR_GROUP_PREFIX: env.string(
    'Consumer group prefix (positions are stored in PostgreSQL/Redis, not in the groups)',
    'tickflow.projections.',
  ),
  PROJECTOR_TIMESCALE: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe('Migrations: use TimescaleDB when available (auto), require it (on), or never (off)'),
});

export type ProjectorConfig = ReturnType<typeof loadProjectorConfig>;
