/**
 * Drops repeated events (same channel, symbol and sequence number), e.g. replays after a reconnect.
 * Memory is bounded twice: a window of recent sequences per key (INGEST_DEDUP_WINDOW), and a cap on the number of
 * keys (INGEST_DEDUP_MAX_KEYS, least recently seen key evicted first). A sequence at or below the highest one that
 * fell out of a key's window is treated as a repeat: sequences rise per ticker, so such an event is a late replay.
 * Key eviction is CLOCK (second chance), an O(1) approximation of least-recently-seen that avoids
 * re-inserting the key into the map on every event (the hot path runs at 100k events/s).
 *
 * A key's window is a ring of float64s (8 bytes a sequence, grown by doubling up to the window), not a Set: a Set of
 * 256 numbers plus its arrival-order array held about 13 KB per key, the ring about 2.4 KB (bench/memory-per-symbol.ts;
 * RELIABILITY.md, memory). Sequences rise, so almost every event is above the key's highest sequence and is accepted
 * without a lookup; only an out-of-order one scans the ring.
 */
export interface DuplicateFilterOptions {
  /** Recent sequence numbers kept per key. */
  readonly windowPerKey: number;
  /** Keys (channel:symbol) kept at most. */
  readonly maxKeys: number;
}

interface KeyWindow {
  /** Accepted sequences in arrival order, circular once full (`next` is the oldest then). */
  ring: Float64Array;
  /** Sequences held (≤ ring.length). */
  size: number;
  next: number;
  /** Highest sequence held or evicted: anything above it is new. */
  highest: number;
  /** Highest sequence evicted from the window: anything at or below it is a late replay. */
  floor: number;
  /** Seen since it last came up for eviction (CLOCK reference bit). */
  touched: boolean;
}

const FIRST_RING = 8;

/** The defaults of INGEST_DEDUP_WINDOW and INGEST_DEDUP_MAX_KEYS. */
export const DEFAULT_DEDUP: DuplicateFilterOptions = { windowPerKey: 256, maxKeys: 50_000 };

export class DuplicateFilter {
  private readonly windows = new Map<string, KeyWindow>();
  private sequencesHeld = 0;

  constructor(private readonly options: DuplicateFilterOptions = DEFAULT_DEDUP) {
    if (options.windowPerKey < 1 || options.maxKeys < 1) throw new RangeError('windowPerKey and maxKeys must be at least 1');
  }

  get keyCount(): number {
    return this.windows.size;
  }

  /** Sequences held over all keys (at most maxKeys × windowPerKey). */
  get sequenceCount(): number {
    return this.sequencesHeld;
  }

  /** True when this (key, sequence) was seen before; records it otherwise. */
  isDuplicate(key: string, sequence: number): boolean {
    let window = this.windows.get(key);
    if (window === undefined) {
      if (this.windows.size >= this.options.maxKeys) this.evictOne();
      window = {
        ring: new Float64Array(Math.min(FIRST_RING, this.options.windowPerKey)),
        size: 0,
        next: 0,
        highest: Number.NEGATIVE_INFINITY,
        floor: Number.NEGATIVE_INFINITY,
        touched: false,
      };
      this.windows.set(key, window);
    } else {
      window.touched = true;
    }
    if (sequence <= window.highest) {
      if (sequence <= window.floor) return true;
      const { ring, size } = window;
      for (let index = 0; index < size; index += 1) if (ring[index] === sequence) return true;
    } else window.highest = sequence;
    this.hold(window, sequence);
    return false;
  }

  private hold(window: KeyWindow, sequence: number): void {
    const windowPerKey = this.options.windowPerKey;
    if (window.size < windowPerKey) {
      if (window.size === window.ring.length) {
        const grown = new Float64Array(Math.min(windowPerKey, window.ring.length * 2));
        grown.set(window.ring);
        window.ring = grown;
      }
      window.ring[window.size] = sequence;
      window.size += 1;
      this.sequencesHeld += 1;
      return;
    }
    const evicted = window.ring[window.next]!;
    if (evicted > window.floor) window.floor = evicted;
    window.ring[window.next] = sequence;
    window.next = (window.next + 1) % windowPerKey;
  }

  private evictOne(): void {
    for (;;) {
      const [oldestKey, oldest] = this.windows.entries().next().value as [string, KeyWindow];
      this.windows.delete(oldestKey);
      if (!oldest.touched) {
        this.sequencesHeld -= oldest.size;
        return;
      }
      // Second chance: seen since it was last considered, so it goes to the back.
      oldest.touched = false;
      this.windows.set(oldestKey, oldest);
    }
  }
}
