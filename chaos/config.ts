import { defineEnv, env } from '../platform/index.js';

/** Settings of the reliability suite (`npm run test:chaos`). */
export const loadChaosConfig = defineEnv('chaos', {
  CHAOS_SCALE: env.number('Scale of the chaos suite: fuzz runs and simulator duration are multiplied by it (CI uses 0.2)', 1),
  CHAOS_KNOWN_FAILURES: env.bool('Also run the fault cases that fail today and are documented in RELIABILITY.md (not in CI)', false),
  CHAOS_LOG_DIR: env.string('Where the chaos suite writes the captured stage logs and its figures (JSON)', '.tickflow/chaos'),
});

/** A count scaled by CHAOS_SCALE, never below `minimum`. */
export function scaled(count: number, minimum = 1): number {
  return Math.max(minimum, Math.round(count * loadChaosConfig().CHAOS_SCALE));
}
