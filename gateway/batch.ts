import { matches, type EventFilter } from './filter.js';
import type { LogEvent, PartitionRead } from './types.js';

/** An event chosen for delivery; with conflation, the latest of `folded` events of its key. */
export interface Delivery {
  readonly event: LogEvent;
  /** How many events of this key the delivery stands for (1 without conflation). */
  readonly folded: number;
}

export interface Batch {
  readonly deliveries: readonly Delivery[];
  /** partition -> next offset after this batch (every partition that was read). */
  readonly next: ReadonlyMap<number, number>;
  /** Records examined (delivered, folded or filtered out). */
  readonly scanned: number;
}

/**
 * Chooses what to send from reads of several partitions, given the client's credits. Partitions are merged
 * by timestamp (ties by partition then offset) so a client sees the streams interleaved as they happened;
 * within a partition the order is the log's. A partition's next offset moves past every record examined,
 * delivered or not, and stops at the first record that did not fit, so nothing is skipped on the next call.
 *
 * Conflation keeps the latest event per key; each delivery is tagged with the offset of the last event
 * folded into it, so the cursor after the batch is exact. It stops before a new key that would need one
 * credit more than the client has.
 */
export function selectBatch(reads: ReadonlyMap<number, PartitionRead>, filter: EventFilter, credits: number, conflate: boolean): Batch {
  const next = new Map<number, number>();
  // Only wanted events take part in the merge: an unwanted one never uses a credit nor stops a partition, so
  // leaving it out gives the same batch, and a subscription to a few symbols merges only its own events.
  const lanes: LogEvent[][] = [];
  let scanned = 0;
  for (const [partition, read] of reads) {
    next.set(partition, read.nextOffset);
    scanned += read.events.length;
    const lane: LogEvent[] = [];
    for (const event of read.events) if (matches(filter, event)) lane.push(event);
    if (lane.length > 0) lanes.push(lane);
  }
  const wanted = mergeByTime(lanes);

  const stopped = new Set<number>();
  if (!conflate) {
    const deliveries: Delivery[] = [];
    for (const event of wanted) {
      if (stopped.has(event.partition)) continue;
      if (deliveries.length >= credits) {
        scanned -= stopPartitionAt(event, reads, stopped, next);
        continue;
      }
      deliveries.push({ event, folded: 1 });
    }
    return { deliveries, next, scanned };
  }

  const latest = new Map<string, { event: LogEvent; folded: number }>();
  for (const event of wanted) {
    if (stopped.has(event.partition)) continue;
    // Keyed per partition too: positions are per partition, so a fold never crosses partitions.
    const slot = `${event.partition}\u0000${event.key}`;
    const held = latest.get(slot);
    if (held) {
      // Re-insert so the map's order is the order of each key's latest event.
      latest.delete(slot);
      latest.set(slot, { event, folded: held.folded + 1 });
    } else if (latest.size >= credits) {
      scanned -= stopPartitionAt(event, reads, stopped, next);
    } else {
      latest.set(slot, { event, folded: 1 });
    }
  }
  return { deliveries: [...latest.values()], next, scanned };
}

/**
 * Stops `event`'s partition there (its next offset is the event's), and returns how many records of its read it
 * did not examine: from the stop to the end of the read. A module function, not a closure made per batch.
 */
function stopPartitionAt(
  event: LogEvent,
  reads: ReadonlyMap<number, PartitionRead>,
  stopped: Set<number>,
  next: Map<number, number>,
): number {
  stopped.add(event.partition);
  next.set(event.partition, event.offset);
  let count = 0;
  for (const other of reads.get(event.partition)!.events) if (other.offset >= event.offset) count += 1;
  return count;
}

/**
 * Merges per-partition lists (each in log order) into one, by timestamp, ties by partition. Each list keeps its
 * own order even where record times go backwards within a partition, so positions never skip a record.
 */
function mergeByTime(lanes: readonly LogEvent[][]): LogEvent[] {
  if (lanes.length === 0) return [];
  if (lanes.length === 1) return lanes[0]!;
  const heads = lanes.map(() => 0);
  const merged: LogEvent[] = [];
  for (;;) {
    let best = -1;
    for (let lane = 0; lane < lanes.length; lane += 1) {
      const event = lanes[lane]![heads[lane]!];
      if (event === undefined) continue;
      const current = best < 0 ? undefined : lanes[best]![heads[best]!]!;
      if (
        current === undefined ||
        event.timestampMs < current.timestampMs ||
        (event.timestampMs === current.timestampMs && event.partition < current.partition)
      )
        best = lane;
    }
    if (best < 0) return merged;
    merged.push(lanes[best]![heads[best]!]!);
    heads[best]! += 1;
  }
}

const COMMA = 0x2c;

/** A reusable buffer for frames that are copied away as soon as they are written (as a socket send does). */
export interface FrameScratch {
  buffer: Buffer;
}

/**
 * A frame around a batch's events: `head`, the cached wire form of each event (with `folded` added for
 * conflated ones) separated by commas, then `tail`, written into one buffer sized up front. With `scratch`,
 * the frame is a view of the scratch buffer, valid until the next call: no allocation per frame.
 */
export function deliveriesFrame(head: string, deliveries: readonly Delivery[], tail: string, scratch?: FrameScratch): Buffer {
  const foldTags = deliveries.map(({ folded }) => (folded > 1 ? `,"folded":${folded}}` : undefined));
  let size = Buffer.byteLength(head, 'utf8') + Buffer.byteLength(tail, 'utf8') + Math.max(0, deliveries.length - 1);
  for (let index = 0; index < deliveries.length; index += 1) {
    const foldTag = foldTags[index];
    const { wireStart, wireEnd } = deliveries[index]!.event;
    size += foldTag === undefined ? wireEnd - wireStart : wireEnd - wireStart - 1 + foldTag.length;
  }
  let frame: Buffer;
  if (scratch) {
    if (scratch.buffer.length < size) scratch.buffer = Buffer.allocUnsafeSlow(Math.max(size, scratch.buffer.length * 2));
    frame = scratch.buffer.subarray(0, size);
  } else frame = Buffer.allocUnsafe(size);
  let at = frame.write(head, 0, 'utf8');
  for (let index = 0; index < deliveries.length; index += 1) {
    if (index > 0) frame[at++] = COMMA;
    const { wireBytes, wireStart, wireEnd } = deliveries[index]!.event;
    const foldTag = foldTags[index];
    if (foldTag === undefined) at += wireBytes.copy(frame, at, wireStart, wireEnd);
    else {
      // The event without its closing brace, then `,"folded":n}`.
      at += wireBytes.copy(frame, at, wireStart, wireEnd - 1);
      at += frame.write(foldTag, at, 'latin1');
    }
  }
  frame.write(tail, at, 'utf8');
  return frame;
}
