/**
 * The in-memory structures of a stage that grow with time, symbols, partitions or clients, each with its cap,
 * exposed on /metrics so that a soak (and the CI memory check) counts entries against the documented caps instead
 * of guessing from the heap: `tickflow_tracked_structure_entries{structure}` and `tickflow_tracked_structure_cap{structure}`.
 */
import { Gauge, type Registry } from 'prom-client';

export interface TrackedStructure {
  /** `<owner>.<field>`, e.g. `ingest.dedup.keys`. */
  readonly name: string;
  /** Entries now (read at scrape time). */
  readonly entries: () => number;
  /**
   * The documented cap (a function when it scales with something that changes, e.g. the partitions assigned);
   * Infinity for a structure bounded by something else (time, the rate, the universe).
   */
  readonly cap: number | (() => number);
}

const ENTRIES = 'tickflow_tracked_structure_entries';
const CAP = 'tickflow_tracked_structure_cap';

/** Registers the gauges once per registry; later calls add structures to the same gauges. */
export function trackStructures(registry: Registry, structures: readonly TrackedStructure[]): void {
  const existing = registry.getSingleMetric(ENTRIES) as (Gauge & { tracked?: TrackedStructure[] }) | undefined;
  if (existing?.tracked) {
    existing.tracked.push(...structures);
    return;
  }
  const tracked = [...structures];
  const entries = new Gauge({
    name: ENTRIES,
    help: 'Entries held now by a tracked in-memory structure (see RELIABILITY.md, memory)',
    labelNames: ['structure'],
    registers: [registry],
    collect() {
      for (const structure of tracked) this.set({ structure: structure.name }, structure.entries());
    },
  });
  Object.assign(entries, { tracked });
  new Gauge({
    name: CAP,
    help: 'Documented cap of a tracked in-memory structure (absent when bounded by the universe or the partitions)',
    labelNames: ['structure'],
    registers: [registry],
    collect() {
      for (const structure of tracked) {
        const cap = typeof structure.cap === 'number' ? structure.cap : structure.cap();
        if (Number.isFinite(cap)) this.set({ structure: structure.name }, cap);
      }
    },
  });
}

export interface TrackedReading {
  readonly structure: string;
  readonly entries: number;
  readonly cap: number | undefined;
}

/** The tracked structures in a Prometheus text exposition (a stage's /metrics answer). */
export function readTrackedStructures(exposition: string): TrackedReading[] {
  const entries = new Map<string, number>();
  const caps = new Map<string, number>();
  const sample = /^(tickflow_tracked_structure_(?:entries|cap))\{[^}]*structure="([^"]+)"[^}]*\} (\S+)$/;
  for (const line of exposition.split('\n')) {
    const match = sample.exec(line);
    if (!match) continue;
    (match[1] === ENTRIES ? entries : caps).set(match[2]!, Number(match[3]));
  }
  return [...entries].map(([structure, value]) => ({ structure, entries: value, cap: caps.get(structure) }));
}

/** Readings over their cap (what the CI memory check and the soak report refuse). */
export function overCap(readings: readonly TrackedReading[]): TrackedReading[] {
  return readings.filter((reading) => reading.cap !== undefined && reading.entries > reading.cap);
}
