import { Counter, Gauge, Histogram, type Registry } from '../platform/metrics.js';
import { createNoticeMetrics, type NoticeMetrics } from '../store/notifier.js';

/** The projector's Prometheus metrics. */
export interface ProjectorMetrics extends NoticeMetrics {
  readonly batches: Counter<'projection' | 'topic' | 'outcome'>;
  readonly rows: Counter<'projection' | 'topic'>;
  readonly rejects: Counter<'projection' | 'topic'>;
  readonly batchSeconds: Histogram<'projection' | 'topic'>;
  readonly nextOffset: Gauge<'projection' | 'topic' | 'partition'>;
  readonly paused: Gauge<'projection' | 'topic'>;
  readonly skipped: Counter<'projection' | 'topic' | 'reason'>;
  /** Batches the Redis read model wrote in several MULTIs, to keep its commands in flight under the cap. */
  readonly redisSplitBatches: Counter<'projection' | 'topic'>;
  /** Refreshes of a continuous aggregate after rows committed below its watermark (projections/late-refresh.ts). */
  readonly aggregateRefreshes: Counter<'view' | 'outcome'>;
  readonly aggregateRefreshSeconds: Histogram<'view'>;
}

export function createProjectorMetrics(registry: Registry): ProjectorMetrics {
  return {
    batches: new Counter({
      name: 'tickflow_projection_batches_total',
      help: 'Batches handled, by outcome (applied, seek)',
      labelNames: ['projection', 'topic', 'outcome'],
      registers: [registry],
    }),
    rows: new Counter({
      name: 'tickflow_projection_rows_total',
      help: 'Rows (or Redis events) applied',
      labelNames: ['projection', 'topic'],
      registers: [registry],
    }),
    rejects: new Counter({
      name: 'tickflow_projection_rejects_total',
      help: 'Messages kept in projection_rejects instead of the tables',
      labelNames: ['projection', 'topic'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'tickflow_projection_batch_seconds',
      help: 'Time to decode and apply one batch',
      labelNames: ['projection', 'topic'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    nextOffset: new Gauge({
      name: 'tickflow_projection_next_offset',
      help: 'Next offset stored per partition',
      labelNames: ['projection', 'topic', 'partition'],
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'tickflow_projection_paused_partitions',
      help: 'Partitions paused because the database is behind',
      labelNames: ['projection', 'topic'],
      registers: [registry],
    }),
    ...createNoticeMetrics(registry),
    skipped: new Counter({
      name: 'tickflow_projection_skipped_total',
      help: 'Input records applied to nothing by design (e.g. a bar older than the latest one in the Redis snapshot)',
      labelNames: ['projection', 'topic', 'reason'],
      registers: [registry],
    }),
    redisSplitBatches: new Counter({
      name: 'tickflow_projection_redis_split_batches_total',
      help: 'Batches written to Redis in several MULTIs, each awaited before the next, to keep the commands in flight under PROJECTOR_REDIS_MAX_IN_FLIGHT',
      labelNames: ['projection', 'topic'],
      registers: [registry],
    }),
    aggregateRefreshes: new Counter({
      name: 'tickflow_projection_aggregate_refreshes_total',
      help: 'Refreshes of a continuous aggregate after rows committed below its watermark, by outcome (refreshed, left to the policy)',
      labelNames: ['view', 'outcome'],
      registers: [registry],
    }),
    aggregateRefreshSeconds: new Histogram({
      name: 'tickflow_projection_aggregate_refresh_seconds',
      help: 'Time to refresh a continuous aggregate after rows committed below its watermark (waits for a concurrent refresh included)',
      labelNames: ['view'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
