import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * Heap in use just after the latest major (mark-compact) GC: the live heap without the garbage that `heap_size_used`
 * also counts between collections, so a soak fits its slope to a signal that saws by a few MiB, not by a hundred.
 * One observer per process, shared by every registry.
 */
let heapAfterMajorGc: number | undefined;
let gcObserver: PerformanceObserver | undefined;

function observeMajorGcs(): void {
  if (gcObserver) return;
  gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        heapAfterMajorGc = getHeapStatistics().used_heap_size;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
}

/**
 * A Prometheus registry for one process, with the default Node metrics (heap, RSS, event-loop lag)
 * labelled by stage, and `tickflow_nodejs_heap_after_major_gc_bytes`. Stages create their own counters on it.
 */
export function createMetricsRegistry(stage: string, options: { collectDefaults?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ stage });
  if (options.collectDefaults ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'tickflow_' });
    observeMajorGcs();
    new Gauge({
      name: 'tickflow_nodejs_heap_after_major_gc_bytes',
      help: 'Heap in use just after the latest major GC (the live heap; absent before the first one)',
      registers: [registry],
      collect() {
        if (heapAfterMajorGc !== undefined) this.set(heapAfterMajorGc);
      },
    });
  }
  return registry;
}
