/**
 * Drops repeated events (same channel, symbol and sequence number), e.g. replays after a reconnect.
 * Memory is bounded twice: a window of recent sequences per key, and a cap on the number of keys
 * (least recently seen key evicted first). A sequence at or below the highest one that fell out of a
 * key's window is treated as a repeat: sequences rise per ticker, so such an event is a late replay.
 * Key eviction is CLOCK (second chance), an O(1) approximation of least-recently-seen that avoids
 * re-inserting the key into the map on every event (the hot path runs at 100k events/s).
 */
export interface DuplicateFilterOptions {
  /** Recent sequence numbers kept per key. */
  readonly windowPerKey: number;
  /** Keys (channel:symbol) kept at most. */
  readonly maxKeys: number;
}

interface KeyWindow {
  readonly seen: Set<number>;
  readonly order: number[];
  next: number;
  floor: number;
  /** Seen since it last came up for eviction (CLOCK reference bit). */
  touched: boolean;
}

export class DuplicateFilter {
  private readonly windows = new Map<string, KeyWindow>();

  constructor(private readonly options: DuplicateFilterOptions = { windowPerKey: 256, maxKeys: 50_000 }) {
    if (options.windowPerKey < 1 || options.maxKeys < 1) throw new RangeError('windowPerKey and maxKeys must be at least 1');
  }

  get keyCount(): number {
    return this.windows.size;
  }

  /** True when this (key, sequence) was seen before; records it otherwise. */
  isDuplicate(key: string, sequence: number): boolean {
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.options.maxKeys) this.evictOne();
      window = { seen: new Set(), order: [], next: 0, floor: Number.NEGATIVE_INFINITY, touched: false };
      this.windows.set(key, window);
    } else {
      window.touched = true;
    }
    if (sequence <= window.floor || window.seen.has(sequence)) return true;
    if (window.order.length < this.options.windowPerKey) {
      window.order.push(sequence);
    } else {
      const evicted = window.order[window.next]!;
      window.seen.delete(evicted);
      if (evicted > window.floor) window.floor = evicted;
      window.order[window.next] = sequence;
      window.next = (window.next + 1) % this.options.windowPerKey;
    }
    window.seen.add(sequence);
    return false;
  }

  private evictOne(): void {
    for (;;) {
      const [oldestKey, oldest] = this.windows.entries().next().value as [string, KeyWindow];
      this.windows.delete(oldestKey);
      if (!oldest.touched) return;
      // Second chance: seen since it was last considered, so it goes to the back.
      oldest.touched = false;
      this.windows.set(oldestKey, oldest);
    }
  }
}
