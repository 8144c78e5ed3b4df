import type { LogEvent, PartitionRead } from './types.js';

/**
 * The recent records of one partition, in offset order. It covers the offsets [coveredFrom, nextOffset):
 * every record of the log in that range that the gateway keeps is in the ring (control records and skipped
 * copies occupy offsets but no slot), so a read from any offset in the range needs no Kafka round trip.
 */
export class PartitionRing {
  private readonly slots: (LogEvent | undefined)[];
  private head = 0; // index of the oldest event
  private size = 0;
  private covered: number;
  private next: number;

  constructor(
    readonly capacity: number,
    startOffset: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring capacity must be a positive integer');
    this.slots = new Array<LogEvent | undefined>(capacity);
    this.covered = startOffset;
    this.next = startOffset;
  }

  /** The first offset the ring answers for. */
  get coveredFrom(): number {
    return this.covered;
  }

  /** One past the last offset fetched from the log. */
  get nextOffset(): number {
    return this.next;
  }

  get length(): number {
    return this.size;
  }

  /** Appends a read that starts where the ring ends; the oldest records fall out when full. */
  append(read: PartitionRead): void {
    for (const event of read.events) {
      if (event.offset < this.next) continue; // already held (a re-fetch after a retry)
      if (this.size === this.capacity) {
        const evicted = this.slots[this.head]!;
        this.slots[this.head] = undefined;
        this.head = (this.head + 1) % this.capacity;
        this.size -= 1;
        this.covered = evicted.offset + 1;
      }
      this.slots[(this.head + this.size) % this.capacity] = event;
      this.size += 1;
      this.next = event.offset + 1;
    }
    if (read.nextOffset > this.next) this.next = read.nextOffset;
  }

  /** Whether a read from `offset` can be answered by the ring. */
  covers(offset: number): boolean {
    return offset >= this.covered && offset <= this.next;
  }

  /** Up to `limit` records from `offset` on; `undefined` when the ring does not cover `offset`. */
  read(offset: number, limit: number): PartitionRead | undefined {
    if (!this.covers(offset)) return undefined;
    const events: LogEvent[] = [];
    let index = this.firstIndexAtOrAfter(offset);
    while (index < this.size && events.length < limit) {
      events.push(this.slots[(this.head + index) % this.capacity]!);
      index += 1;
    }
    const nextOffset = index < this.size ? events[events.length - 1]!.offset + 1 : this.next;
    return { events, nextOffset: Math.max(nextOffset, offset) };
  }

  /** Binary search: the logical index of the first event with offset >= `offset`. */
  private firstIndexAtOrAfter(offset: number): number {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.slots[(this.head + mid) % this.capacity]!.offset < offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Drops everything and restarts coverage at `offset` (the log was reset or the tailer jumped). */
  reset(offset: number): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.covered = offset;
    this.next = offset;
  }
}
