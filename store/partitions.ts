import type pg from 'pg';
import type { Logger } from '../platform/logger.js';

/**
 * Plain-PostgreSQL path: keeps monthly partitions prepared 13 months ahead (the migration prepared them at install
 * time; a long-lived deployment needs new ones), and drops the months older than the table's retention (the
 * topic's, store/retention.ts; TimescaleDB's retention policies do it on the other path). Rows never fail for lack of
 * a partition (DEFAULT partition), but a month whose rows already sit in DEFAULT cannot get its own partition: that
 * is logged, not fatal. Returns the number of tables prepared.
 */
export async function maintainPartitions(pool: pg.Pool, logger: Logger): Promise<number> {
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
    try {
      const { rows } = await pool.query<{ dropped: number }>('SELECT tf_drop_expired_partitions($1) AS dropped', [table]);
      if (rows[0]!.dropped > 0) logger.info({ table, dropped: rows[0]!.dropped }, 'dropped monthly partitions older than the retention');
    } catch (error) {
      logger.warn({ err: error, table }, 'could not drop the monthly partitions older than the retention');
    }
  }
  return prepared;
}
