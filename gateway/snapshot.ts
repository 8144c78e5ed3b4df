import type { Redis } from 'ioredis';
// The read model's own modules (key builders and value shapes), not the projector: the gateway needs no more.
import type { RedisKeys } from '../contracts/redis-keys.js';
import { parseSnapshot, type PatternState } from '../contracts/redis-model.js';
import { REDIS_PROJECTION } from '../contracts/redis-keys.js';
import type { WireEvent } from './client/protocol.js';
import { matches, type EventFilter } from './filter.js';
import { makeEvent, type StreamName } from './types.js';

/** Latest values with the exact log position they reflect: a subscription continues from `next`. */
export interface Snapshot {
  readonly source: 'redis';
  /** partition -> next offset not yet reflected in the items. */
  readonly next: Map<number, number>;
  readonly items: readonly WireEvent[];
}

export interface SnapshotSource {
  /** `undefined` when this source cannot answer (no read model yet, or no symbol list for bars). */
  snapshot(stream: StreamName, topic: string, filter: EventFilter): Promise<Snapshot | undefined>;
}

const MAX_ATTEMPTS = 5;

/**
 * Snapshots from the projections' Redis read model (projections/redis-keys.ts). Patterns: the active patterns
 * (`scan all by detected_at` + each pattern's state); bars: each filtered symbol's snapshot hash. The read
 * model writes its data and its offsets in one MULTI, so reading under WATCH of the offsets hash gives a view
 * that matches the offsets exactly (retried when a write lands in between). Items carry position -1/-1: they
 * are states, not log records; the live stream continues from the offsets.
 */
export function redisSnapshotSource(redis: Redis, keys: RedisKeys, maxItems = 5_000): SnapshotSource {
  // WATCH belongs to the connection: snapshots on it run one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const source: SnapshotSource = {
    snapshot(stream, topic, filter) {
      const run = queue.then(() => read(stream, topic, filter));
      queue = run.catch(() => undefined);
      return run;
    },
  };
  return source;

  async function read(stream: StreamName, topic: string, filter: EventFilter): Promise<Snapshot | undefined> {
    {
      if (stream === 'bars' && !filter.symbols) return undefined;
      const offsetsKey = keys.offsets(REDIS_PROJECTION);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
        await redis.watch(offsetsKey);
        try {
          const stored = await redis.hgetall(offsetsKey);
          const next = new Map<number, number>();
          for (const [field, value] of Object.entries(stored)) {
            const cut = field.lastIndexOf(':');
            if (field.slice(0, cut) === topic) next.set(Number(field.slice(cut + 1)), Number(value));
          }
          if (next.size === 0) {
            await redis.unwatch();
            return undefined;
          }
          const items = stream === 'patterns' ? await patternItems(redis, keys, filter, maxItems) : await barItems(redis, keys, filter);
          // EXEC of an empty transaction fails (null) when the offsets moved since WATCH: read again.
          const committed = await redis.multi().exec();
          if (committed !== null) return { source: 'redis', next, items };
        } catch (error) {
          await redis.unwatch();
          throw error;
        }
      }
      return undefined;
    }
  }
}

async function patternItems(redis: Redis, keys: RedisKeys, filter: EventFilter, maxItems: number): Promise<WireEvent[]> {
  const ids = await redis.zrevrange(keys.scan({ kind: 'all' }, 'detected_at'), 0, maxItems - 1);
  if (ids.length === 0) return [];
  const states = await redis.mget(ids.map((id) => keys.pattern(id)));
  const items: WireEvent[] = [];
  for (const text of states) {
    if (text === null) continue;
    const state = JSON.parse(text) as PatternState;
    const data: Record<string, unknown> = { ...state, kind: state.lastKind };
    if (matches(filter, makeEvent(-1, -1, state.detectedAtMs, state.symbol, data))) items.push({ p: -1, o: -1, ts: state.detectedAtMs, key: state.symbol, data });
  }
  return items.sort((a, b) => a.ts - b.ts);
}

async function barItems(redis: Redis, keys: RedisKeys, filter: EventFilter): Promise<WireEvent[]> {
  const symbols = [...(filter.symbols ?? [])];
  const pipeline = redis.pipeline();
  for (const symbol of symbols) pipeline.hgetall(keys.snapshot(symbol));
  const results = (await pipeline.exec()) ?? [];
  const items: WireEvent[] = [];
  results.forEach(([error, hash], index) => {
    if (error || !hash || Object.keys(hash).length === 0) return;
    const snapshot = parseSnapshot(hash as Record<string, string>);
    items.push({ p: -1, o: -1, ts: snapshot.barStartMs ?? 0, key: symbols[index]!, data: { symbol: symbols[index]!, ...snapshot } });
  });
  return items;
}
