import type { Redis } from 'ioredis';
import { Counter, Gauge, type Logger, type Registry } from '../platform/index.js';
import { versionStamp } from './cache-key.js';

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface CachedRead<T> {
  readonly value: T;
  readonly outcome: CacheOutcome;
  /** The versions the value is valid for; undefined when Redis was not consulted. */
  readonly stamp: string | undefined;
}

interface Entry<T> {
  readonly v: string;
  readonly d: T;
}

export interface CacheMetrics {
  readonly requests: Counter<'kind' | 'outcome'>;
  readonly hitRatio: Gauge;
}

/** Counters of cache outcomes by kind, and the hit ratio (hits / (hits + misses)) since start. */
export function createCacheMetrics(registry: Registry): CacheMetrics {
  const requests = new Counter({
    name: 'tickflow_api_cache_requests_total',
    help: 'Cache lookups of the API read-through cache by kind and outcome (hit, miss, bypass = Redis unavailable)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const hitRatio = new Gauge({
    name: 'tickflow_api_cache_hit_ratio',
    help: 'Hits / (hits + misses) of the API read-through cache since start',
    registers: [registry],
    async collect() {
      const { values } = await requests.get();
      let hits = 0;
      let misses = 0;
      for (const sample of values) {
        if (sample.labels.outcome === 'hit') hits += sample.value;
        if (sample.labels.outcome === 'miss') misses += sample.value;
      }
      this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
    },
  });
  return { requests, hitRatio };
}

/**
 * Read-through cache over Redis. One MGET reads the entry and the current versions of its scope; the
 * entry is a hit only if it was computed at those versions. Versions are read before loading, so an event
 * that lands during the load leaves an entry stamped with the older version, which the next read rejects.
 * Any Redis failure degrades to loading from PostgreSQL (outcome `bypass`), never to an error.
 */
export class ReadThroughCache {
  constructor(
    private readonly redis: Redis | undefined,
    private readonly ttlSeconds: number,
    private readonly metrics: CacheMetrics,
    private readonly logger: Logger,
  ) {}

  get available(): boolean {
    return this.redis !== undefined && this.redis.status === 'ready';
  }

  async read<T>(kind: string, key: string, versionKeys: readonly string[], load: () => Promise<T>): Promise<CachedRead<T>> {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return this.bypass(kind, load);
    let stamp: string;
    let raw: string | null;
    try {
      // One MGET reads the entry and the versions it must match: a single round trip per hit.
      const [entryValue, ...versions] = await redis.mget(key, ...versionKeys);
      raw = entryValue ?? null;
      stamp = versionStamp(versions);
    } catch (error) {
      this.logger.warn({ err: error, key }, 'cache read failed; serving from PostgreSQL');
      return this.bypass(kind, load);
    }
    if (raw !== null) {
      try {
        const entry = JSON.parse(raw) as Entry<T>;
        if (entry.v === stamp) {
          this.metrics.requests.inc({ kind, outcome: 'hit' });
          return { value: entry.d, outcome: 'hit', stamp };
        }
      } catch {
        // A corrupt entry is a miss; the write below replaces it.
      }
    }
    this.metrics.requests.inc({ kind, outcome: 'miss' });
    const value = await load();
    const entry: Entry<T> = { v: stamp, d: value };
    redis.set(key, JSON.stringify(entry), 'EX', this.ttlSeconds).catch((error: unknown) => {
      this.logger.warn({ err: error, key }, 'cache write failed');
    });
    return { value, outcome: 'miss', stamp };
  }

  private async bypass<T>(kind: string, load: () => Promise<T>): Promise<CachedRead<T>> {
    this.metrics.requests.inc({ kind, outcome: 'bypass' });
    return { value: await load(), outcome: 'bypass', stamp: undefined };
  }
}
