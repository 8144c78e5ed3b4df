import { Counter, Gauge, Histogram, type Registry } from '../platform/index.js';

/** The ingest stage's Prometheus metrics, on the process registry. */
export interface IngestMetrics {
  readonly eventsIn: Counter<'source'>;
  readonly eventsOut: Counter<'topic'>;
  readonly deadLetters: Counter<'source'>;
  readonly duplicates: Counter<'source'>;
  readonly reconnects: Counter<'source'>;
  readonly lag: Histogram;
  readonly buffered: Gauge;
  readonly connected: Gauge<'source'>;
  readonly produceFailures: Counter;
  readonly produceStalled: Gauge;
  readonly producerReplacements: Counter;
  /** 1 for the instance's current lease role (joining, standby, active, lost); empty without INGEST_LEASE. */
  readonly leaseRole: Gauge<'role'>;
  readonly leaseTakeovers: Counter;
  readonly fenced: Counter;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  const existing = registry.getSingleMetric('tickflow_ingest_events_in_total');
  if (existing) throw new Error('ingest metrics are already registered on this registry');
  return {
    eventsIn: new Counter({
      name: 'tickflow_ingest_events_in_total',
      help: 'Data events received from a source (valid or not)',
      labelNames: ['source'],
      registers: [registry],
    }),
    eventsOut: new Counter({
      name: 'tickflow_ingest_events_out_total',
      help: 'Records acknowledged by Kafka',
      labelNames: ['topic'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'tickflow_ingest_dead_letters_total',
      help: 'Inputs sent to the dead-letter topic',
      labelNames: ['source'],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'tickflow_ingest_duplicates_total',
      help: 'Repeated events (same symbol and sequence) dropped',
      labelNames: ['source'],
      registers: [registry],
    }),
    reconnects: new Counter({
      name: 'tickflow_ingest_reconnects_total',
      help: 'WebSocket reconnections',
      labelNames: ['source'],
      registers: [registry],
    }),
    lag: new Histogram({
      name: 'tickflow_ingest_event_lag_seconds',
      help: 'Produce acknowledgement time minus event time (clamped at 0: an accelerated simulator runs ahead of the wall clock)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86_400],
      registers: [registry],
    }),
    buffered: new Gauge({ name: 'tickflow_ingest_buffered_messages', help: 'Messages waiting for Kafka', registers: [registry] }),
    produceFailures: new Counter({
      name: 'tickflow_ingest_produce_failures_total',
      help: 'Produce requests Kafka rejected (put back and retried)',
      registers: [registry],
    }),
    producerReplacements: new Counter({
      name: 'tickflow_ingest_producer_replacements_total',
      help: 'Producers replaced because Kafka refused their sequence numbers (what they had not written is sent again)',
      registers: [registry],
    }),
    produceStalled: new Gauge({
      name: 'tickflow_ingest_produce_stalled_seconds',
      help: 'Seconds since Kafka last acknowledged while messages wait (0 when idle)',
      registers: [registry],
    }),
    leaseRole: new Gauge({
      name: 'tickflow_ingest_lease_role',
      help: '1 for the lease role this instance is in (active writes the feed; a standby waits to take over)',
      labelNames: ['role'],
      registers: [registry],
    }),
    leaseTakeovers: new Counter({
      name: 'tickflow_ingest_lease_takeovers_total',
      help: 'Times this instance took the lease over as a standby',
      registers: [registry],
    }),
    fenced: new Counter({
      name: 'tickflow_ingest_fenced_total',
      help: 'Writes Kafka refused because another instance took the lease over (this instance then stops)',
      registers: [registry],
    }),
    connected: new Gauge({
      name: 'tickflow_ingest_connected',
      help: '1 while the live source is streaming',
      labelNames: ['source'],
      registers: [registry],
    }),
  };
}
