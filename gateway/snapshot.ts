import type { Redis } from 'ioredis';
// The read model's own modules (key builders and value shapes), not the projector: the gateway needs no more.
import type { RedisKeys } from '../contracts/redis-keys.js';
import { foldBar, parseSnapshot, patternState, type PatternState, type SymbolSnapshot as BarSnapshot } from '../contracts/redis-model.js';
import { REDIS_PROJECTION } from '../contracts/redis-keys.js';
import type { AggregateValue, PatternEventValue } from '../contracts/values.js';
import type { SnapshotItem } from './client/protocol.js';
import { matches, type EventFilter } from './filter.js';
import { makeEvent, type StreamName } from './types.js';

/**
 * What a snapshot is (gateway/asyncapi.yaml, SnapshotItem): the current state of what a subscription covers, not
 * log records. Patterns: one item per active pattern (its PatternState, as the read model keeps it). Bars: one
 * item per symbol (its bar snapshot). Both sources (the Redis read model and the gateway's rings) build items
 * with these functions, so a client sees one shape whichever answered.
 */
export function patternSnapshotItems(states: Iterable<PatternState>, filter: EventFilter, maxItems: number): SnapshotItem[] {
  const items: SnapshotItem[] = [];
  for (const state of states) {
    if (state.status !== 'active') continue;
    // Filters name the event's kind; a state's kind is that of its last event.
    if (
      !matches(
        filter,
        makeEvent(-1, -1, state.detectedAtMs, state.symbol, { pattern: state.pattern, tier: state.tier, kind: state.lastKind }),
      )
    )
      continue;
    items.push({ key: state.symbol, ts: state.detectedAtMs, data: { ...state } });
  }
  return items.sort((a, b) => a.ts - b.ts).slice(-maxItems);
}

export function barSnapshotItem(symbol: string, snapshot: BarSnapshot): SnapshotItem {
  return { key: symbol, ts: snapshot.barStartMs ?? snapshot.dailyStartMs ?? 0, data: { symbol, ...snapshot } };
}

/** A snapshot folded from log records in log order (per key): the rings' answer when the read model cannot give one. */
export function snapshotFromRecords(
  stream: StreamName,
  records: Iterable<{ readonly key: string; readonly data: Readonly<Record<string, unknown>> }>,
  filter: EventFilter,
  maxItems: number,
): SnapshotItem[] {
  if (stream === 'patterns') {
    const states = new Map<string, PatternState>();
    for (const { data } of records) {
      const event = data as unknown as PatternEventValue;
      states.set(event.patternId, patternState(event));
    }
    return patternSnapshotItems(states.values(), filter, maxItems);
  }
  const bars = new Map<string, BarSnapshot>();
  for (const { key, data } of records) {
    if (filter.symbols && !filter.symbols.has(key)) continue;
    bars.set(key, foldBar(bars.get(key) ?? {}, data as unknown as AggregateValue));
  }
  return [...bars]
    .map(([symbol, snapshot]) => barSnapshotItem(symbol, snapshot))
    .sort((a, b) => a.ts - b.ts)
    .slice(-maxItems);
}

/** Latest values with the exact log position they reflect: a subscription continues from `next`. */
export interface Snapshot {
  readonly source: 'redis';
  /** partition -> next offset not yet reflected in the items. */
  readonly next: Map<number, number>;
  readonly items: readonly SnapshotItem[];
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
 * that matches the offsets exactly (retried when a write lands in between). Items are states, not log records
 * (they carry no position); the live stream continues from the offsets.
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
          const items =
            stream === 'patterns' ? await patternItems(redis, keys, filter, maxItems) : await barItems(redis, keys, filter, maxItems);
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

async function patternItems(redis: Redis, keys: RedisKeys, filter: EventFilter, maxItems: number): Promise<SnapshotItem[]> {
  const ids = await redis.zrevrange(keys.scan({ kind: 'all' }, 'detected_at'), 0, maxItems - 1);
  if (ids.length === 0) return [];
  const states = await redis.mget(ids.map((id) => keys.pattern(id)));
  return patternSnapshotItems(
    states.flatMap((text) => (text === null ? [] : [JSON.parse(text) as PatternState])),
    filter,
    maxItems,
  );
}

async function barItems(redis: Redis, keys: RedisKeys, filter: EventFilter, maxItems: number): Promise<SnapshotItem[]> {
  const symbols = [...(filter.symbols ?? [])];
  const pipeline = redis.pipeline();
  for (const symbol of symbols) pipeline.hgetall(keys.snapshot(symbol));
  const results = (await pipeline.exec()) ?? [];
  const items: SnapshotItem[] = [];
  results.forEach(([error, hash], index) => {
    if (error || !hash || Object.keys(hash).length === 0) return;
    items.push(barSnapshotItem(symbols[index]!, parseSnapshot(hash as Record<string, string>)));
  });
  return items.sort((a, b) => a.ts - b.ts).slice(-maxItems);
}
