import type { Redis } from 'ioredis';
import { Counter, Gauge, type Logger, type Registry } from '../platform/index.js';
import { versionStamp } from './cache-key.js';

/** hit: current; stale: older than the current versions but within the allowed staleness (refreshed behind); miss; bypass: Redis unavailable. */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'bypass';

export interface CachedRead<T> {
  readonly value: T;
  readonly outcome: CacheOutcome;
  /** The versions the value is valid for; undefined when Redis was not consulted. */
  readonly stamp: string | undefined;
}

interface Entry<T> {
  /** Version stamp the value was computed at. */
  readonly v: string;
  /** When it was computed (epoch ms), which bounds the staleness of a stale hit. */
  readonly t: number;
  readonly d: T;
}

export interface CacheMetrics {
  readonly requests: Counter<'kind' | 'outcome'>;
  readonly hitRatio: Gauge;
  readonly servedRatio: Gauge;
  readonly refreshes: Counter<'kind' | 'outcome'>;
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
  const servedRatio = new Gauge({
    name: 'tickflow_api_cache_served_ratio',
    help: '(hits + stale hits) / (hits + stale hits + misses): answers served from Redis, including entries within the allowed staleness',
    registers: [registry],
    async collect() {
      const { values } = await requests.get();
      let served = 0;
      let misses = 0;
      for (const sample of values) {
        if (sample.labels.outcome === 'hit' || sample.labels.outcome === 'stale') served += sample.value;
        if (sample.labels.outcome === 'miss') misses += sample.value;
      }
      this.set(served + misses === 0 ? 0 : served / (served + misses));
    },
  });
  const refreshes = new Counter({
    name: 'tickflow_api_cache_refreshes_total',
    help: 'Refresh-ahead of hot cache entries after a projection notice (done, skipped = another instance or already current, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  return { requests, hitRatio, servedRatio, refreshes };
}

export interface CacheOptions {
  readonly ttlSeconds: number;
  /** How many recently read entries are refreshed ahead when their scope changes (0 disables). */
  readonly hotEntries?: number;
  /** An entry not read for this long is no longer refreshed ahead. */
  readonly hotWindowMs?: number;
  readonly now?: () => number;
}

interface HotEntry {
  readonly kind: string;
  readonly versionKeys: readonly string[];
  readonly load: () => Promise<unknown>;
  lastRead: number;
}

/**
 * Read-through cache over Redis. One MGET reads the entry and the current versions of its scope; the
 * entry is a hit only if it was computed at those versions. Versions are read before loading, so an event
 * that lands during the load leaves an entry stamped with the older version, which the next read rejects.
 * Any Redis failure degrades to loading from PostgreSQL (outcome `bypass`), never to an error.
 */
export class ReadThroughCache {
  private readonly ttlSeconds: number;
  private readonly hotLimit: number;
  private readonly hotWindowMs: number;
  private readonly now: () => number;
  /** Recently read refreshable entries, least recently read first (Map keeps insertion order). */
  private readonly hot = new Map<string, HotEntry>();
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly redis: Redis | undefined,
    options: CacheOptions,
    private readonly metrics: CacheMetrics,
    private readonly logger: Logger,
  ) {
    this.ttlSeconds = options.ttlSeconds;
    this.hotLimit = options.hotEntries ?? 200;
    this.hotWindowMs = options.hotWindowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get available(): boolean {
    return this.redis !== undefined && this.redis.status === 'ready';
  }

  /**
   * Reads through the cache. With `refreshAhead`, the entry is remembered as hot: when a projection notice
   * changes one of its version keys, `refreshAffected` recomputes it before the next reader asks.
   */
  async read<T>(
    kind: string,
    key: string,
    versionKeys: readonly string[],
    load: () => Promise<T>,
    options: { refreshAhead?: boolean; maxStaleMs?: number } = {},
  ): Promise<CachedRead<T>> {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return this.bypass(kind, load);
    if (options.refreshAhead && this.hotLimit > 0) this.remember(key, { kind, versionKeys, load, lastRead: this.now() });
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
        // Stale-while-revalidate: an entry computed less than maxStaleMs ago is served while one refresh runs behind.
        if (options.maxStaleMs !== undefined && options.maxStaleMs > 0 && this.now() - entry.t <= options.maxStaleMs) {
          this.metrics.requests.inc({ kind, outcome: 'stale' });
          void this.refresh(key, { kind, versionKeys, load, lastRead: this.now() });
          return { value: entry.d, outcome: 'stale', stamp: entry.v };
        }
      } catch {
        // A corrupt entry is a miss; the write below replaces it.
      }
    }
    this.metrics.requests.inc({ kind, outcome: 'miss' });
    const value = await load();
    const entry: Entry<T> = { v: stamp, t: this.now(), d: value };
    redis.set(key, JSON.stringify(entry), 'EX', this.ttlSeconds).catch((error: unknown) => {
      this.logger.warn({ err: error, key }, 'cache write failed');
    });
    return { value, outcome: 'miss', stamp };
  }

  private remember(key: string, entry: HotEntry): void {
    this.hot.delete(key);
    this.hot.set(key, entry);
    if (this.hot.size > this.hotLimit) this.hot.delete(this.hot.keys().next().value as string);
  }

  /** Hot entries that depend on any of these version keys and were read recently. */
  hotEntriesAffectedBy(changed: ReadonlySet<string>): string[] {
    const since = this.now() - this.hotWindowMs;
    return [...this.hot].filter(([, entry]) => entry.lastRead >= since && entry.versionKeys.some((versionKey) => changed.has(versionKey))).map(([key]) => key);
  }

  /**
   * Recomputes the hot entries a projection notice made stale, two at a time, so that dashboards polling
   * them hit the cache instead of waiting for PostgreSQL. Across API instances one refresh per entry and
   * version wins (SET NX); the others skip. Returns the number of entries refreshed.
   */
  async refreshAffected(changed: ReadonlySet<string>): Promise<number> {
    const keys = this.hotEntriesAffectedBy(changed);
    let refreshed = 0;
    for (let i = 0; i < keys.length; i += 2) {
      const results = await Promise.all(keys.slice(i, i + 2).map((key) => this.refresh(key)));
      refreshed += results.filter(Boolean).length;
    }
    return refreshed;
  }

  private async refresh(key: string, given?: HotEntry): Promise<boolean> {
    const entry = given ?? this.hot.get(key);
    const redis = this.redis;
    if (!entry || !redis || redis.status !== 'ready' || this.refreshing.has(key)) return false;
    this.refreshing.add(key);
    try {
      const [current, ...versions] = await redis.mget(key, ...entry.versionKeys);
      const stamp = versionStamp(versions);
      const alreadyCurrent = current !== null && current !== undefined && current.startsWith(`{"v":${JSON.stringify(stamp)},`);
      const claimed = !alreadyCurrent && (await redis.set(`${key}:refresh:${stamp}`, '1', 'EX', 30, 'NX')) === 'OK';
      if (!claimed) {
        this.metrics.refreshes.inc({ kind: entry.kind, outcome: 'skipped' });
        return false;
      }
      const value = await entry.load();
      await redis.set(key, JSON.stringify({ v: stamp, t: this.now(), d: value } satisfies Entry<unknown>), 'EX', this.ttlSeconds);
      this.metrics.refreshes.inc({ kind: entry.kind, outcome: 'done' });
      return true;
    } catch (error) {
      this.metrics.refreshes.inc({ kind: entry.kind, outcome: 'failed' });
      this.logger.warn({ err: error, key }, 'cache refresh-ahead failed');
      return false;
    } finally {
      this.refreshing.delete(key);
    }
  }

  private async bypass<T>(kind: string, load: () => Promise<T>): Promise<CachedRead<T>> {
    this.metrics.requests.inc({ kind, outcome: 'bypass' });
    return { value: await load(), outcome: 'bypass', stamp: undefined };
  }
}
