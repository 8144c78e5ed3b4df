import { fromBase64Url, toBase64Url } from '../platform/base64url.js';
import { digest } from '../platform/digest.js';
import type { StreamName } from './types.js';
import { STREAM_NAMES } from './types.js';

/**
 * A resume position: for every partition of a stream's topic, the next offset to deliver, plus the epoch
 * (the topic's identity). Clients treat the encoded form as opaque.
 */
export interface Cursor {
  readonly stream: StreamName;
  readonly epoch: string;
  /** partition -> next offset to deliver. */
  readonly next: Readonly<Record<number, number>>;
}

const PREFIX = 'c1.';
const MAX_CURSOR_CHARS = 4096;

/**
 * The identity of a topic: a hash of its name and Kafka topic id. A topic deleted and recreated under the
 * same name gets a new id, so cursors of the old log are recognised as foreign instead of silently
 * pointing into the new one.
 */
export function topicEpoch(topic: string, topicId: string): string {
  return digest(`${topic}\u0000${topicId}`, 12);
}

export function encodeCursor(cursor: Cursor): string {
  return encodePosition(
    cursor.stream,
    cursor.epoch,
    new Map(Object.entries(cursor.next).map(([partition, offset]) => [Number(partition), offset])),
  );
}

/**
 * `encodeCursor` straight from a subscription's positions (partition -> next offset). The gateway writes a
 * cursor into every frame it sends, so this builds the text in one pass, without the intermediate object and
 * arrays.
 */
export function encodePosition(stream: StreamName, epoch: string, next: ReadonlyMap<number, number>): string {
  let partitions: number[] | undefined;
  let previous = -1;
  for (const partition of next.keys()) {
    // Positions are kept in partition order almost always; sort only when they are not.
    if (partition < previous) {
      partitions = [...next.keys()].sort((a, b) => a - b);
      break;
    }
    previous = partition;
  }
  let offsets = '';
  for (const partition of partitions ?? next.keys()) offsets += `${offsets.length === 0 ? '' : ','}${partition}:${next.get(partition)!}`;
  return PREFIX + toBase64Url(`${stream}|${epoch}|${offsets}`);
}

export class CursorError extends Error {
  override name = 'CursorError';
}

/** Parses an encoded cursor; throws CursorError with the reason when it is not one of ours. */
export function decodeCursor(text: string): Cursor {
  if (text.length > MAX_CURSOR_CHARS) throw new CursorError('cursor too long');
  if (!text.startsWith(PREFIX)) throw new CursorError('not a cursor (unknown version)');
  const body = fromBase64Url(text.slice(PREFIX.length));
  const parts = body.split('|');
  if (parts.length !== 3) throw new CursorError('malformed cursor');
  const [stream, epoch, offsets] = parts as [string, string, string];
  if (!(STREAM_NAMES as string[]).includes(stream)) throw new CursorError(`cursor names an unknown stream ${JSON.stringify(stream)}`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(epoch)) throw new CursorError('malformed cursor epoch');
  const next: Record<number, number> = {};
  if (offsets.length > 0) {
    for (const pair of offsets.split(',')) {
      const match = /^(\d{1,5}):(\d{1,16})$/.exec(pair);
      if (!match) throw new CursorError('malformed cursor offsets');
      const partition = Number(match[1]);
      if (partition in next) throw new CursorError('cursor repeats a partition');
      next[partition] = Number(match[2]);
    }
  }
  return { stream: stream as StreamName, epoch, next };
}

/** The cursor after delivering `partition`'s records up to (excluding) `nextOffset`. */
export function advance(cursor: Cursor, partition: number, nextOffset: number): Cursor {
  return { ...cursor, next: { ...cursor.next, [partition]: nextOffset } };
}
