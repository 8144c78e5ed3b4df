import { z } from 'zod';
import { defineEnv, env } from '../platform/config.js';

/**
 * Default of PROJECTOR_REDIS_MAX_IN_FLIGHT: 5,000 commands, so 416 pattern events or 1,665 bars per MULTI
 * (memory per command: RELIABILITY.md, memory).
 */
export const DEFAULT_REDIS_MAX_IN_FLIGHT = 5_000;

/** The projector's own settings; connection strings come from the platform config. */
export const loadProjectorConfig = defineEnv('projections', {
  PROJECTOR_OPS_PORT: env.int('Port of the projector ops server (/health /ready /metrics)', 9466),
  PROJECTOR_POOL_SIZE: env.int('Maximum PostgreSQL connections of the projector pool', 4),
  PROJECTOR_PROJECTIONS: env.list('Projections to run: patterns, bars, reference, redis', 'patterns,bars,reference,redis'),
  PROJECTOR_REDIS_MAX_IN_FLIGHT: env.int(
    'Redis commands the read-model projection has in flight at most: a larger batch is written in several MULTIs, each awaited before the next (the consumer waits); memory: see RELIABILITY.md (memory)',
    DEFAULT_REDIS_MAX_IN_FLIGHT,
  ),
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
