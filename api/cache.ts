import type { Redis } from 'ioredis';
import { Counter, Gauge, InFlight, type Logger, type Registry, type TrackedStructure } from '../platform/index.js';
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
  /** The version keys the stamp covers, when they depend on the value (see `dependsOn`); else the reader's. */
  readonly k?: readonly string[];
  readonly d: T;
}

export interface ReadOptions<T> {
  /** Remember the entry as hot: refresh it as soon as a projection notice changes one of its version keys. */
  readonly refreshAhead?: boolean;
  /** Serve an entry computed at older versions if it is at most this old, while one refresh runs behind. */
  readonly maxStaleMs?: number;
  /**
   * The version keys the value depends on, known only once it is computed (e.g. the symbols on a scan page).
   * The `versionKeys` of the read are then a guard: every change that could matter bumps one of them, so if
   * they did not move while the value was loaded, the dependency versions read right after the load are the
   * ones the value was computed at. If they moved, the value is returned but not stored.
   */
  readonly dependsOn?: (value: T) => readonly string[];
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
  // served / (served + misses) over the request counter's samples, read when metrics are scraped.
  const ratioGauge = (name: string, help: string, served: ReadonlySet<string>) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const { values } = await requests.get();
        let hits = 0;
        let misses = 0;
        for (const sample of values) {
          if (served.has(String(sample.labels.outcome))) hits += sample.value;
          if (sample.labels.outcome === 'miss') misses += sample.value;
        }
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
      },
    });
  const hitRatio = ratioGauge(
    'tickflow_api_cache_hit_ratio',
    'Hits / (hits + misses) of the API read-through cache since start',
    new Set(['hit']),
  );
  const servedRatio = ratioGauge(
    'tickflow_api_cache_served_ratio',
    '(hits + stale hits) / (hits + stale hits + misses): answers served from Redis, including entries within the allowed staleness',
    new Set(['hit', 'stale']),
  );
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
  /** Tracks the work done behind readers, refreshes and cache writes, so that a stop can wait for it. */
  readonly inFlight?: InFlight;
  /** Values kept in this instance's memory (API_CACHE_LOCAL_VALUES), least recently stored dropped first. */
  readonly localValues?: number;
  /** Entries whose dependency keys are remembered (API_CACHE_KNOWN_DEPENDENCIES), oldest dropped first. */
  readonly knownDependencies?: number;
}

interface HotEntry {
  readonly kind: string;
  /** The guard keys of a value-dependent entry, else the entry's version keys. */
  readonly versionKeys: readonly string[];
  readonly load: () => Promise<unknown>;
  readonly dependsOn: ((value: unknown) => readonly string[]) | undefined;
  lastRead: number;
}

/** The default of API_CACHE_KNOWN_DEPENDENCIES: entries whose value-dependent version keys each instance remembers (so a hit stays one MGET). */
export const DEFAULT_KNOWN_DEPENDENCIES = 5_000;

/** The default of API_CACHE_LOCAL_VALUES: current values each instance keeps in memory, with the stamp they were computed at. */
export const DEFAULT_LOCAL_VALUES = 500;

interface LocalValue {
  readonly stamp: string;
  /** The version keys the stamp covers. */
  readonly keys: readonly string[];
  readonly value: unknown;
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
  private readonly localLimit: number;
  private readonly dependencyLimit: number;
  private readonly now: () => number;
  private readonly inFlight: InFlight;
  /** Recently read refreshable entries, least recently read first (Map keeps insertion order). */
  private readonly hot = new Map<string, HotEntry>();
  private readonly refreshing = new Set<string>();
  /** Entry key -> the version keys its stored entry was stamped over (value-dependent entries only). */
  private readonly dependencies = new Map<string, readonly string[]>();
  /**
   * Values this instance read or computed, by entry key. A hit on one still checks the versions in Redis (so
   * it is exactly as current as an entry read from Redis), but neither transfers nor parses the entry.
   */
  private readonly local = new Map<string, LocalValue>();

  constructor(
    private readonly redis: Redis | undefined,
    options: CacheOptions,
    private readonly metrics: CacheMetrics,
    private readonly logger: Logger,
  ) {
    this.ttlSeconds = options.ttlSeconds;
    this.hotLimit = options.hotEntries ?? 200;
    this.hotWindowMs = options.hotWindowMs ?? 60_000;
    this.localLimit = options.localValues ?? DEFAULT_LOCAL_VALUES;
    this.dependencyLimit = options.knownDependencies ?? DEFAULT_KNOWN_DEPENDENCIES;
    this.now = options.now ?? Date.now;
    this.inFlight = options.inFlight ?? new InFlight();
  }

  /** The cache's maps against their caps (for /metrics); `refreshing` is bounded by the refreshes in flight. */
  trackedStructures(): TrackedStructure[] {
    return [
      { name: 'api.cache.local-values', entries: () => this.local.size, cap: this.localLimit },
      { name: 'api.cache.known-dependencies', entries: () => this.dependencies.size, cap: this.dependencyLimit },
      { name: 'api.cache.hot', entries: () => this.hot.size, cap: this.hotLimit },
      { name: 'api.cache.refreshing', entries: () => this.refreshing.size, cap: Number.POSITIVE_INFINITY },
    ];
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
    options: ReadOptions<T> = {},
  ): Promise<CachedRead<T>> {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return this.bypass(kind, load);
    const dependsOn = options.dependsOn as ((value: unknown) => readonly string[]) | undefined;
    const hot: HotEntry = { kind, versionKeys, load, dependsOn, lastRead: this.now() };
    if (options.refreshAhead && this.hotLimit > 0) this.remember(key, hot);
    let guardStamp: string;
    let entry: Entry<T> | undefined;
    let entryStamp: string | undefined;
    const known = dependsOn ? (this.dependencies.get(key) ?? []) : [];
    const local = this.local.get(key);
    if (local !== undefined && sameKeys(local.keys, dependsOn ? known : versionKeys)) {
      try {
        const current = local.keys.length === 0 ? '' : versionStamp(await redis.mget(...local.keys));
        if (current === local.stamp) {
          this.metrics.requests.inc({ kind, outcome: 'hit' });
          return { value: local.value as T, outcome: 'hit', stamp: current };
        }
      } catch (error) {
        this.logger.warn({ err: error, key }, 'cache read failed; serving from PostgreSQL');
        return this.bypass(kind, load);
      }
      this.local.delete(key);
    }
    try {
      // One MGET reads the entry and the versions it must match (the keys it was stamped over, as last seen
      // by this instance): a single round trip per hit. The guard keys are read too, for a miss's load.
      const [entryValue, ...versions] = await redis.mget(key, ...versionKeys, ...known);
      guardStamp = versionStamp(versions.slice(0, versionKeys.length));
      entry = entryValue === null || entryValue === undefined ? undefined : parseEntry<T>(entryValue);
      if (entry) {
        const stampedOver = entry.k ?? versionKeys;
        if (sameKeys(stampedOver, dependsOn ? known : versionKeys))
          entryStamp = dependsOn ? versionStamp(versions.slice(versionKeys.length)) : guardStamp;
        else {
          // Stamped over other keys than this instance last saw (another instance computed it): read those.
          entryStamp = versionStamp(await redis.mget(...stampedOver));
          if (dependsOn) this.know(key, stampedOver);
        }
      }
    } catch (error) {
      this.logger.warn({ err: error, key }, 'cache read failed; serving from PostgreSQL');
      return this.bypass(kind, load);
    }
    if (entry && entry.v === entryStamp) {
      this.keep(key, entryStamp, entry.k ?? versionKeys, entry.d);
      this.metrics.requests.inc({ kind, outcome: 'hit' });
      return { value: entry.d, outcome: 'hit', stamp: entryStamp };
    }
    // Stale-while-revalidate: an entry computed less than maxStaleMs ago is served while one refresh runs behind.
    if (entry && options.maxStaleMs !== undefined && options.maxStaleMs > 0 && this.now() - entry.t <= options.maxStaleMs) {
      this.metrics.requests.inc({ kind, outcome: 'stale' });
      void this.inFlight.track(this.refresh(key, hot));
      return { value: entry.d, outcome: 'stale', stamp: entry.v };
    }
    this.metrics.requests.inc({ kind, outcome: 'miss' });
    const { value, stamp } = await this.loadAndStore(key, hot, guardStamp, load);
    return { value, outcome: 'miss', stamp };
  }

  /**
   * Loads a value and stores it stamped with the versions it was computed at. For a value-dependent entry, the
   * dependency versions are read after the load, and only trusted if the guard versions did not move meanwhile.
   * Returns the stamp, or undefined when the value was not stored.
   */
  private async loadAndStore<T>(
    key: string,
    hot: HotEntry,
    guardStamp: string,
    load: () => Promise<T>,
  ): Promise<{ value: T; stamp: string | undefined }> {
    const redis = this.redis!;
    const value = await load();
    let keys: readonly string[] | undefined;
    let stamp: string | undefined = guardStamp;
    if (hot.dependsOn) {
      keys = hot.dependsOn(value);
      try {
        const versions = await redis.mget(...hot.versionKeys, ...keys);
        stamp =
          versionStamp(versions.slice(0, hot.versionKeys.length)) === guardStamp
            ? versionStamp(versions.slice(hot.versionKeys.length))
            : undefined;
      } catch (error) {
        this.logger.warn({ err: error, key }, 'cache write failed');
        return { value, stamp: undefined };
      }
      if (stamp === undefined) return { value, stamp };
      this.know(key, keys);
    }
    const entry: Entry<T> = keys ? { v: stamp, t: this.now(), k: keys, d: value } : { v: stamp, t: this.now(), d: value };
    this.keep(key, stamp, keys ?? hot.versionKeys, value);
    // Not awaited: the answer does not depend on the write, and commands on one connection run in order, so
    // this instance's next read of the key already finds it. Tracked: an auto-pipelined write still queued
    // would otherwise lose to a stop's QUIT, which is sent at once.
    void this.inFlight.track(
      redis.set(key, JSON.stringify(entry), 'EX', this.ttlSeconds).catch((error: unknown) => {
        this.logger.warn({ err: error, key }, 'cache write failed');
      }),
    );
    return { value, stamp };
  }

  private keep(key: string, stamp: string, keys: readonly string[], value: unknown): void {
    this.local.delete(key);
    this.local.set(key, { stamp, keys, value });
    if (this.local.size > this.localLimit) this.local.delete(this.local.keys().next().value as string);
  }

  private know(key: string, keys: readonly string[]): void {
    this.dependencies.delete(key);
    this.dependencies.set(key, keys);
    if (this.dependencies.size > this.dependencyLimit) this.dependencies.delete(this.dependencies.keys().next().value as string);
  }

  private remember(key: string, entry: HotEntry): void {
    this.hot.delete(key);
    this.hot.set(key, entry);
    if (this.hot.size > this.hotLimit) this.hot.delete(this.hot.keys().next().value as string);
  }

  /** Hot entries that depend on any of these version keys and were read recently. */
  hotEntriesAffectedBy(changed: ReadonlySet<string>): string[] {
    const since = this.now() - this.hotWindowMs;
    const dependsOnChanged = (key: string, entry: HotEntry) =>
      entry.versionKeys.some((versionKey) => changed.has(versionKey)) ||
      (this.dependencies.get(key) ?? []).some((versionKey) => changed.has(versionKey));
    return [...this.hot].filter(([key, entry]) => entry.lastRead >= since && dependsOnChanged(key, entry)).map(([key]) => key);
  }

  /**
   * Recomputes the hot entries a projection notice made stale, two at a time, so that dashboards polling
   * them hit the cache instead of waiting for PostgreSQL. Across API instances one refresh per entry and
   * version wins (SET NX); the others skip. Returns the number of entries refreshed.
   */
  refreshAffected(changed: ReadonlySet<string>): Promise<number> {
    return this.inFlight.track(this.refreshEach(this.hotEntriesAffectedBy(changed)));
  }

  private async refreshEach(keys: readonly string[]): Promise<number> {
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
      const known = entry.dependsOn ? (this.dependencies.get(key) ?? []) : [];
      const [current, ...versions] = await redis.mget(key, ...entry.versionKeys, ...known);
      const guardStamp = versionStamp(versions.slice(0, entry.versionKeys.length));
      const stamp = entry.dependsOn ? versionStamp(versions.slice(entry.versionKeys.length)) : guardStamp;
      const alreadyCurrent = current !== null && current !== undefined && current.startsWith(`{"v":${JSON.stringify(stamp)},`);
      const claimed = !alreadyCurrent && (await redis.set(`${key}:refresh:${guardStamp}:${stamp}`, '1', 'EX', 30, 'NX')) === 'OK';
      if (!claimed) {
        this.metrics.refreshes.inc({ kind: entry.kind, outcome: 'skipped' });
        return false;
      }
      const stored = await this.loadAndStore(key, entry, guardStamp, entry.load);
      this.metrics.refreshes.inc({ kind: entry.kind, outcome: stored.stamp === undefined ? 'skipped' : 'done' });
      return stored.stamp !== undefined;
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

function parseEntry<T>(raw: string): Entry<T> | undefined {
  try {
    return JSON.parse(raw) as Entry<T>;
  } catch {
    // A corrupt entry is a miss; the write after the load replaces it.
    return undefined;
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((key, index) => key === b[index]);
}
