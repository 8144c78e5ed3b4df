import type pg from 'pg';
import { TOPICS, type TopicKey } from '../platform/topics.js';

/**
 * The time-series relations and the topic each one's rows come from. A relation keeps its rows as long as that topic
 * keeps its records (`TOPICS[topic].retentionMs`, from HISTORY_RETENTION_MS): the topic's retention is the one
 * setting, so every row the API serves can be replayed from the log. The 5m/15m/1h bars and the hourly pattern
 * counts are continuous aggregates on TimescaleDB (with a retention policy of their own) and plain views otherwise.
 */
export const RETAINED_RELATIONS = {
  bars_1m: 'minuteAggregates',
  bars_5m: 'minuteAggregates',
  bars_15m: 'minuteAggregates',
  bars_1h: 'minuteAggregates',
  bars_1d: 'dailyAggregates',
  pattern_events: 'patterns',
  pattern_counts_hourly: 'patterns',
} as const satisfies Record<string, TopicKey>;

export type RetainedRelation = keyof typeof RETAINED_RELATIONS;

/** How long `relation` keeps its rows, as a PostgreSQL interval (`730 days`), or null for forever. */
export function relationRetention(relation: RetainedRelation): string | null {
  const ms = TOPICS[RETAINED_RELATIONS[relation]].retentionMs;
  if (ms < 0) return null;
  if (ms % 1000 !== 0) throw new RangeError(`retention of ${relation} is not whole seconds: ${ms} ms`);
  return ms % 86_400_000 === 0 ? `${ms / 86_400_000} days` : `${ms / 1000} seconds`;
}

/**
 * Stores each relation's retention in the database and applies it (`tf_set_history_retention`: on TimescaleDB a
 * retention policy, replaced only when it differs; on the plain path `maintainPartitions` drops expired months).
 * `migrate()` runs it after the migrations, so a change of the setting reaches the tables at the next start.
 */
export async function applyHistoryRetention(client: pg.ClientBase): Promise<void> {
  for (const relation of Object.keys(RETAINED_RELATIONS) as RetainedRelation[]) {
    await client.query('SELECT tf_set_history_retention($1, $2::interval)', [relation, relationRetention(relation)]);
  }
}
