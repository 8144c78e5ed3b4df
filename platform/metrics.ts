import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * A Prometheus registry for one process, with the default Node metrics (heap, RSS, event-loop lag)
 * labelled by stage. Stages create their own counters on it.
 */
export function createMetricsRegistry(stage: string, options: { collectDefaults?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ stage });
  if (options.collectDefaults ?? true) collectDefaultMetrics({ register: registry, prefix: 'tickflow_' });
  return registry;
}
