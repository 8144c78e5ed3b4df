import { Counter, Gauge, type Registry } from '../platform/index.js';

/** The processors' metrics (registered in `registry` when given, so tests can run without one). */
export function createProcessorMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    records: new Counter({
      name: 'tickflow_processor_records_total',
      help: 'Input records by topic and outcome',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    events: new Counter({ name: 'tickflow_processor_events_total', help: 'Output messages by topic', labelNames: ['topic'], registers }),
    transactions: new Counter({
      name: 'tickflow_processor_transactions_total',
      help: 'Kafka transactions by result',
      labelNames: ['result'],
      registers,
    }),
    snapshots: new Counter({
      name: 'tickflow_processor_snapshots_total',
      help: 'State snapshots by result',
      labelNames: ['result'],
      registers,
    }),
    snapshotBytes: new Gauge({
      name: 'tickflow_processor_snapshot_bytes',
      help: 'Size of the last snapshot of a partition',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    assigned: new Gauge({ name: 'tickflow_processor_assigned_partitions', help: 'Input partitions processed by this instance', registers }),
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;
