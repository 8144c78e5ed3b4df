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
  const merged: LogEvent[] = [];
  for (const [partition, read] of reads) {
    next.set(partition, read.nextOffset);
    for (const event of read.events) merged.push(event);
  }
  merged.sort((a, b) => a.timestampMs - b.timestampMs || a.partition - b.partition || a.offset - b.offset);

  const stopped = new Set<number>();
  let scanned = 0;
  const stopAt = (event: LogEvent) => {
    stopped.add(event.partition);
    next.set(event.partition, event.offset);
  };

  if (!conflate) {
    const deliveries: Delivery[] = [];
    for (const event of merged) {
      if (stopped.has(event.partition)) continue;
      const wanted = matches(filter, event);
      if (wanted && deliveries.length >= credits) {
        stopAt(event);
        continue;
      }
      scanned += 1;
      if (wanted) deliveries.push({ event, folded: 1 });
    }
    return { deliveries, next, scanned };
  }

  const latest = new Map<string, { event: LogEvent; folded: number }>();
  for (const event of merged) {
    if (stopped.has(event.partition)) continue;
    const wanted = matches(filter, event);
    if (!wanted) {
      scanned += 1;
      continue;
    }
    // Keyed per partition too: positions are per partition, so a fold never crosses partitions.
    const slot = `${event.partition}\u0000${event.key}`;
    const held = latest.get(slot);
    if (held) {
      // Re-insert so the map's order is the order of each key's latest event.
      latest.delete(slot);
      latest.set(slot, { event, folded: held.folded + 1 });
    } else if (latest.size >= credits) {
      stopAt(event);
      continue;
    } else {
      latest.set(slot, { event, folded: 1 });
    }
    scanned += 1;
  }
  return { deliveries: [...latest.values()], next, scanned };
}

/** The wire form of a batch's events: the cached JSON of each, with `folded` added for conflated ones. */
export function deliveriesJson(deliveries: readonly Delivery[]): string {
  const parts = deliveries.map(({ event, folded }) => (folded > 1 ? `${event.json.slice(0, -1)},"folded":${folded}}` : event.json));
  return `[${parts.join(',')}]`;
}
