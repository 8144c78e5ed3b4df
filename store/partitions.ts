import type pg from 'pg';
import type { Logger } from '../platform/logger.js';

/**
 * Plain-PostgreSQL path: keeps monthly partitions prepared 13 months ahead (the migration prepared them at install
 * time; a long-lived deployment needs new ones). Rows never fail for lack of one (DEFAULT partition), but a month
 * whose rows already sit in DEFAULT cannot get its own partition: that is logged, not fatal.
 */
export async function preparePartitions(pool: pg.Pool, logger: Logger): Promise<number> {
  const timescale = await pool.query<{ on: boolean }>('SELECT tf_timescale_enabled() AS on');
  if (timescale.rows[0]?.on) return 0;
  let prepared = 0;
  for (const table of ['bars_1m', 'pattern_events']) {
    try {
      await pool.query(
        `SELECT tf_ensure_monthly_partitions($1, date_trunc('month', now())::date, (date_trunc('month', now()) + interval '13 months')::date)`,
        [table],
      );
      prepared += 1;
    } catch (error) {
      logger.warn({ err: error, table }, 'could not prepare monthly partitions; rows go to the DEFAULT partition');
    }
  }
  return prepared;
}
