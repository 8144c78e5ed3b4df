import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry, loadPlatformConfig } from '../platform/index.js';
import { uniqueRedisPrefix } from '../test/postgres.js';
import { createCacheMetrics, ReadThroughCache } from './cache.js';

const prefix = uniqueRedisPrefix('api-cache');
let redis: Redis;

const newCache = () =>
  new ReadThroughCache(
    redis,
    { ttlSeconds: 60, hotEntries: 10 },
    createCacheMetrics(createMetricsRegistry('api', { collectDefaults: false })),
    createLogger('api-cache-test', { level: 'silent' }),
  );

beforeAll(async () => {
  redis = new Redis(loadPlatformConfig().REDIS_URL);
  await redis.ping();
});

afterAll(async () => {
  const leftovers = await redis.keys(`${prefix}*`);
  if (leftovers.length > 0) await redis.del(...leftovers);
  redis.disconnect();
});

describe('ReadThroughCache with value-dependent versions', () => {
  it('stamps an entry over the keys its value names, and does not store it if the guard moved during the load', async () => {
    const cache = newCache();
    const [key, guard, dependency] = [`${prefix}entry`, `${prefix}guard`, `${prefix}dep`];
    let loads = 0;
    const racing = async () => {
      loads += 1;
      // An event lands while the value is computed: the value may predate it, so it must not be stored.
      await redis.incr(guard);
      return { n: loads };
    };
    const options = { dependsOn: () => [dependency] };
    expect((await cache.read('t', key, [guard], racing, options)).stamp).toBeUndefined();
    expect((await cache.read('t', key, [guard], racing, options)).outcome).toBe('miss');
    const load = async () => ({ n: (loads += 1) });
    expect((await cache.read('t', key, [guard], load, options)).outcome).toBe('miss');
    expect((await cache.read('t', key, [guard], load, options)).outcome).toBe('hit');
    // A guard bump alone does not invalidate the stored value: its dependencies do.
    await redis.incr(guard);
    expect((await cache.read('t', key, [guard], load, options)).outcome).toBe('hit');
    await redis.incr(dependency);
    expect((await cache.read('t', key, [guard], load, options)).outcome).toBe('miss');
    // Another instance (nothing in memory) finds the entry in Redis; a corrupt entry is a miss that the load replaces.
    const other = newCache();
    expect((await other.read('t', key, [guard], load, options)).outcome).toBe('hit');
    expect((await other.read('t', key, [guard], load, options)).outcome).toBe('hit');
    await redis.set(key, '{not json');
    expect((await newCache().read('t', key, [guard], load, options)).outcome).toBe('miss');
    // The values kept in memory are still checked against the versions in Redis.
    expect((await other.read('t', key, [guard], load, options)).outcome).toBe('hit');
    await redis.incr(dependency);
    expect((await other.read('t', key, [guard], load, options)).outcome).toBe('miss');
  });

  it('keeps values of entries without versions in memory (an aggregate window)', async () => {
    const cache = newCache();
    let loads = 0;
    const load = async () => ({ n: (loads += 1) });
    expect((await cache.read('t', `${prefix}window`, [], load)).outcome).toBe('miss');
    expect((await cache.read('t', `${prefix}window`, [], load)).outcome).toBe('hit');
    expect(loads).toBe(1);
  });

  it('refreshes a hot value-dependent entry when one of its dependencies changes', async () => {
    const cache = newCache();
    const [key, guard, dependency] = [`${prefix}hot`, `${prefix}hot-guard`, `${prefix}hot-dep`];
    let loads = 0;
    const load = async () => ({ n: (loads += 1) });
    const options = { refreshAhead: true, dependsOn: () => [dependency] };
    await cache.read('t', key, [guard], load, options);
    expect(cache.hotEntriesAffectedBy(new Set([`${prefix}other`]))).toEqual([]);
    await redis.incr(dependency);
    expect(await cache.refreshAffected(new Set([dependency]))).toBe(1);
    const read = await cache.read('t', key, [guard], load, options);
    expect(read.outcome).toBe('hit');
    expect(read.value).toEqual({ n: 2 });
    // Already current: nothing to do.
    expect(await cache.refreshAffected(new Set([dependency]))).toBe(0);
  });
});

describe('ReadThroughCache memory under a burst of distinct queries', () => {
  it('keeps its local values, known dependencies and hot entries at their caps', async () => {
    const registry = createMetricsRegistry('api', { collectDefaults: false });
    const cache = new ReadThroughCache(
      redis,
      { ttlSeconds: 60, hotEntries: 20, localValues: 30, knownDependencies: 40 },
      createCacheMetrics(registry),
      createLogger('api-cache-test', { level: 'silent' }),
    );
    const size = (name: string) =>
      cache
        .trackedStructures()
        .find((structure) => structure.name === name)!
        .entries();
    const guard = `${prefix}burst-guard`;
    for (let query = 0; query < 300; query += 1) {
      await cache.read('scan', `${prefix}burst:${query}`, [guard], async () => ({ rows: [query] }), {
        refreshAhead: true,
        dependsOn: () => [`${prefix}burst-dep:${query}`],
      });
    }
    expect(size('api.cache.local-values')).toBe(30);
    expect(size('api.cache.known-dependencies')).toBe(40);
    expect(size('api.cache.hot')).toBe(20);
    const leftovers = await redis.keys(`${prefix}burst*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
  });
});
