/**
 * What one entry of each capped structure costs, measured (not guessed): build N entries as the stage builds them,
 * force a GC, and divide the heap (plus ArrayBuffers) they hold by N. Not a timing benchmark.
 *
 *   node --expose-gc --import tsx bench/memory-per-entry.ts [entries=10000]
 *
 * The figures, and the caps they multiply, are in RELIABILITY.md (memory). Per-symbol state is
 * bench/memory-per-symbol.ts.
 */
import { Redis } from 'ioredis';
import { redisKeys } from '../contracts/redis-keys.js';
import { foldBar, patternWrites, snapshotFields, type RedisWrite } from '../contracts/redis-model.js';
import { loadGatewayConfig } from '../gateway/config.js';
import { compileFilter } from '../gateway/filter.js';
import { PartitionRing } from '../gateway/ring.js';
import { initialSessionState, rulesOf, sessionCore, step } from '../gateway/session-core.js';
import { decodeEvent, placeWire } from '../gateway/types.js';
import type { AggregateValue, PatternEventValue } from '../contracts/values.js';
import { bar } from '../test/record-fixtures.js';
import { heapHeldPer } from './heap-held.js';

/** Heap held by what `build` returns, per entry. */
function perEntry(entries: number, build: () => unknown): number {
  return heapHeldPer(entries, build);
}

const count = Number(process.argv[2] ?? 10_000);
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'SPY', 'QQQ', 'IWM', 'JPM', 'XOM'];
const START_MS = Date.UTC(2026, 10, 24, 14, 30);

/** A detection as the processors emit it (every field set, as on the topic); bench/ may not import test/ fixtures. */
function patternEvent(index: number): PatternEventValue {
  const symbol = SYMBOLS[index % SYMBOLS.length]!;
  const pattern = ['doji', 'hammer', 'bullish_engulfing', 'volume_spike', 'breakout_25'][index % 5]!;
  const patternId = `${symbol}:${pattern}:${index}:1`;
  const price = 50 + ((index * 37) % 400) + 0.25;
  const detectedAtMs = START_MS + index * 60_000;
  return {
    eventId: `${patternId}:DETECTED`,
    kind: 'DETECTED',
    patternId,
    pattern,
    definitionVersion: 1,
    tier: (['INTRADAY', 'DAILY', 'COMBO'] as const)[index % 3]!,
    direction: index % 2 === 0 ? 'BULLISH' : 'BEARISH',
    symbol,
    detectedAtMs,
    expiresAtMs: detectedAtMs + 4 * 3_600_000,
    confidence: 0.5 + (index % 45) / 100,
    baseConfidence: 0.5,
    fundamentalAdjustment: 0,
    fundamentalReasons: [],
    price,
    change: 1.25,
    changePct: 0.83,
    volume: 100_000 + index,
    relativeStrength: 1.12,
    relativeVolume: 2.4,
    rsi: 61.37,
    levels: { breakout: price * 1.01, stop: price * 0.97 },
    sourceTopic: 'market.aggs.minute.v1',
    sourcePartition: 0,
    sourceOffset: index,
  };
}

/** A minute bar as ingest produces it. */
function minuteBar(index: number): AggregateValue {
  const open = 100 + (index % 10);
  return bar(
    SYMBOLS[index % SYMBOLS.length]!,
    'MINUTE',
    START_MS + Math.floor(index / SYMBOLS.length) * 60_000,
    60_000,
    open,
    open + 0.37,
    5_000 + index,
  );
}
const patternEvents = (entries: number) => Array.from({ length: entries }, (_, index) => patternEvent(index));
const figures: Record<string, number> = {};

/** A ring filled as the tail fills it: reads of 500 records, each read's wire bytes in one buffer. */
function ringOf(values: readonly Record<string, unknown>[], key: (value: Record<string, unknown>) => string): PartitionRing {
  const ring = new PartitionRing(values.length, 0);
  for (let start = 0; start < values.length; start += 500) {
    const read = placeWire(
      values
        .slice(start, start + 500)
        .map((value, index) => decodeEvent(0, start + index, 1_764_000_000_000 + start + index, key(value), value)),
    );
    ring.append({ events: read, nextOffset: start + read.length });
  }
  return ring;
}

const patterns = patternEvents(count) as unknown as Record<string, unknown>[];
const bars = Array.from({ length: count }, (_, index) => minuteBar(index)) as unknown as Record<string, unknown>[];
figures['gateway ring: one pattern event'] = perEntry(count, () => ringOf(patterns, (value) => String(value.symbol)));
figures['gateway ring: one minute bar'] = perEntry(count, () => ringOf(bars, (value) => String(value.symbol)));

// projector: commands of the Redis read model's MULTI, queued in an ioredis pipeline as the sink queues them (a
// command in flight holds the same Command and arguments until Redis answers it).
const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
const keys = redisKeys('');
function queued(writes: readonly RedisWrite[]): { pipeline: unknown; commands: number } {
  const multi = redis.multi();
  for (const write of writes) {
    if (write.op === 'set') multi.set(write.key, write.value);
    else if (write.op === 'zadd') multi.zadd(write.key, write.score, write.member);
    else if (write.op === 'zrem') multi.zrem(write.key, write.member);
    else if (write.op === 'hset') multi.hset(write.key, write.fields);
    else if (write.op === 'del') multi.del(write.key);
    else if (write.op === 'ztrim') multi.zremrangebyrank(write.key, 0, -(write.keep + 1));
    else multi.incr(write.key);
  }
  return { pipeline: multi, commands: multi.length };
}
{
  const writes = patternWrites(keys, patternEvents(Math.ceil(count / 10)));
  figures['projector: one Redis command in flight (pattern writes)'] = perEntry(writes.length, () => queued(writes));
  const snapshotWrites: RedisWrite[] = (bars as unknown as Parameters<typeof foldBar>[1][]).flatMap((bar) => [
    { op: 'del', key: keys.snapshot(bar.symbol) },
    { op: 'hset', key: keys.snapshot(bar.symbol), fields: snapshotFields(foldBar({}, bar)) },
    { op: 'incr', key: keys.symbolVersion(bar.symbol) },
  ]);
  figures['projector: one Redis command in flight (bar snapshots)'] = perEntry(snapshotWrites.length, () => queued(snapshotWrites));
}
redis.disconnect();

// gateway: a connection's session state (open, not subscribed), and one symbol of a subscription's filter as the
// client sends it (parsed from the frame's JSON: not shared with other connections).
{
  const core = sessionCore(rulesOf({ ...loadGatewayConfig({}), GATEWAY_MAX_CONNECTIONS: count }, 'bench', false));
  const env = { now: 0, streams: new Map(), bufferedBytes: () => 0 };
  figures['gateway: one connection (session state, before subscribing)'] = perEntry(count, () => {
    const state = initialSessionState(['patterns']);
    for (let connection = 1; connection <= count; connection += 1) step(core, state, { type: 'open', connection }, env);
    return state;
  });
  // Filters of 5,000 symbols each as clients send them, their strings included (each filter its own symbols: V8 may
  // share short strings parsed from JSON between connections naming the same ones, which then pay the Set entry only).
  const filters = Math.max(4, Math.round(count / 5_000));
  const frames = Array.from({ length: filters }, (_, filter) =>
    JSON.stringify({ symbols: Array.from({ length: 5_000 }, (_, index) => `F${filter}S${index.toString(36).toUpperCase()}`) }),
  );
  figures['gateway: one symbol in a subscription filter (strings included)'] = perEntry(filters * 5_000, () =>
    frames.map((frame) => compileFilter(JSON.parse(frame) as { symbols: string[] })),
  );
}

// gateway: one interned symbol key (what every event decoded with a new symbol leaves behind; the events themselves
// are dropped here, so what stays is the interning table's entries).
figures['gateway: one interned symbol key (its string included)'] = perEntry(count, () => {
  for (let offset = 0; offset < count; offset += 1)
    decodeEvent(0, offset, offset, `Y${offset.toString(36).toUpperCase().padStart(5, '0')}`, { pattern: 'doji', tier: 'DAILY' });
  return undefined;
});

const rows = Object.entries(figures).map(([structure, bytes]) => ({ structure, bytesPerEntry: Math.round(bytes) }));
console.log(JSON.stringify({ entries: count, node: process.version, at: new Date().toISOString(), rows }, null, 2));
console.log('| structure | bytes per entry |\n|---|---|');
for (const row of rows) console.log(`| ${row.structure} | ${row.bytesPerEntry.toLocaleString('en-US')} |`);
