import type { TopicKey } from '../platform/topics.js';
import type { StreamName } from './client/protocol.js';

/** The streams a client can subscribe to, and the catalog topic behind each. */
export const STREAMS = { patterns: 'patterns', bars: 'minuteAggregates' } as const satisfies Record<StreamName, TopicKey>;
/** Defined once, by the client protocol (the SDK is self-contained); STREAMS must name a topic for each. */
export type { StreamName };
export const STREAM_NAMES = Object.keys(STREAMS) as StreamName[];

/** One decoded record of a topic, as the gateway holds it in its rings and sends it to clients. */
export interface LogEvent {
  readonly partition: number;
  readonly offset: number;
  /** Kafka record timestamp (ms). */
  readonly timestampMs: number;
  /** The record key (the symbol). */
  readonly key: string;
  /**
   * The fields of the value that subscriptions filter on. The rest of the decoded value is not kept: the ring
   * holds tens of thousands of events, and every object held is work for each garbage collection.
   */
  readonly tags: EventTags;
  /**
   * `{"p":..,"o":..,"ts":..,"key":..,"data":..}` serialised once as UTF-8: `wireBytes[wireStart, wireEnd)`, so
   * fan-out neither re-serialises nor re-encodes per client. Bytes rather than a string: the ring keeps them
   * outside the JS heap, and a frame is assembled from them without flattening a string. The events of one Kafka
   * read share one buffer (`placeWire`): an event then holds no buffer object of its own, one object less for
   * the GC to copy while the event waits in a ring.
   */
  readonly wireBytes: Buffer;
  readonly wireStart: number;
  readonly wireEnd: number;
}

/** An event's wire bytes as a view (for cold paths and tests; frames copy from `wireBytes` directly). */
export function wireOf(event: LogEvent): Buffer {
  return event.wireBytes.subarray(event.wireStart, event.wireEnd);
}

/** A read of one partition: the records found from `fromOffset` and the position after them. */
export interface PartitionRead {
  readonly events: readonly LogEvent[];
  /** The next offset to read from (past control records and filtered copies too). */
  readonly nextOffset: number;
}

/** The bounds of one partition's log. */
export interface PartitionBounds {
  readonly logStart: number;
  readonly high: number;
}

/** The value fields a filter may name (pattern events have all three; bars none). */
export interface EventTags {
  readonly pattern: string | undefined;
  readonly tier: string | undefined;
  readonly kind: string | undefined;
}

const tag = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export function eventJson(partition: number, offset: number, timestampMs: number, key: string, data: unknown): string {
  return JSON.stringify({ p: partition, o: offset, ts: timestampMs, key, data });
}

/**
 * Shared copies of the few distinct keys and tag sets. The rings hold tens of thousands of events for seconds
 * or minutes, long enough for the young-generation GC to copy each event and promote it, and per-event copies
 * of the symbol and tag strings and of the tags object were copied with it. Sharing them lowered the gateway
 * bench's end-to-end p99 by about a quarter (bench/RESULTS.md, 2026-11-26). Bounded, so a topic with unbounded
 * distinct values only stops sharing; the values are equal either way, so outputs do not change.
 */
const INTERNED_MAX = 100_000;
const internedKeys = new Map<string, string>();
const internedTags = new Map<string | undefined, Map<string | undefined, Map<string | undefined, EventTags>>>();
let internedTagSets = 0;

/** Interned keys and tag sets against their cap (for /metrics). */
export const internedCounts = (): { readonly keys: number; readonly tagSets: number; readonly cap: number } => ({
  keys: internedKeys.size,
  tagSets: internedTagSets,
  cap: INTERNED_MAX,
});

function internKey(key: string): string {
  const held = internedKeys.get(key);
  if (held !== undefined) return held;
  if (internedKeys.size < INTERNED_MAX) internedKeys.set(key, key);
  return key;
}

function internTags(pattern: string | undefined, tier: string | undefined, kind: string | undefined): EventTags {
  let byTier = internedTags.get(pattern);
  let byKind = byTier?.get(tier);
  const held = byKind?.get(kind);
  if (held !== undefined) return held;
  const tags: EventTags = Object.freeze({
    pattern: pattern === undefined ? undefined : internKey(pattern),
    tier: tier === undefined ? undefined : internKey(tier),
    kind: kind === undefined ? undefined : internKey(kind),
  });
  if (internedTagSets < INTERNED_MAX) {
    if (!byTier) internedTags.set(pattern, (byTier = new Map()));
    if (!byKind) byTier.set(tier, (byKind = new Map()));
    byKind.set(kind, tags);
    internedTagSets += 1;
  }
  return tags;
}

/** A decoded record before its wire bytes are placed: the JSON text of its envelope (see `placeWire`). */
export interface DecodedEvent {
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: string;
  readonly tags: EventTags;
  readonly json: string;
}

export function decodeEvent(
  partition: number,
  offset: number,
  timestampMs: number,
  key: string,
  data: Readonly<Record<string, unknown>>,
): DecodedEvent {
  const tags = internTags(tag(data.pattern), tag(data.tier), tag(data.kind));
  return { partition, offset, timestampMs, key: internKey(key), tags, json: eventJson(partition, offset, timestampMs, key, data) };
}

/**
 * The events of one read, their JSON written as UTF-8 into one shared buffer: no buffer per event, and the text
 * is encoded once, straight into place.
 */
export function placeWire(decoded: readonly DecodedEvent[]): LogEvent[] {
  if (decoded.length === 0) return [];
  let size = 0;
  for (const event of decoded) size += Buffer.byteLength(event.json, 'utf8');
  const shared = Buffer.allocUnsafeSlow(size);
  let at = 0;
  return decoded.map(({ partition, offset, timestampMs, key, tags, json }) => {
    const start = at;
    at += shared.write(json, at, 'utf8');
    return { partition, offset, timestampMs, key, tags, wireBytes: shared, wireStart: start, wireEnd: at };
  });
}

/** One event on its own (snapshots, tests): its bytes come from Buffer's pool, not a buffer of their own. */
export function makeEvent(
  partition: number,
  offset: number,
  timestampMs: number,
  key: string,
  data: Readonly<Record<string, unknown>>,
): LogEvent {
  const { json, ...event } = decodeEvent(partition, offset, timestampMs, key, data);
  const wireBytes = Buffer.from(json, 'utf8');
  return { ...event, wireBytes, wireStart: 0, wireEnd: wireBytes.length };
}
