/**
 * The fifth reader of the cluster faults (issue 21): did ingest write every trade and quote of the feed exactly once?
 * The simulator numbers each symbol's events (trades and quotes together) by one; each case starts a new feed, later
 * in simulated time, whose numbers start above the last feed's. So a symbol's records, ordered by (event time,
 * sequence), must rise by exactly one, except where a new feed starts; a record seen twice is a duplicate. A feed's
 * first numbers, sent before ingest connected, are not counted missing.
 */

/** What the check needs of a trade or a quote. */
export interface SequencedRecord {
  readonly symbol: string;
  readonly sequence: number;
  readonly sipTimestampMs: number;
  /** Trades and quotes share the numbers: the same number on both topics is two records. */
  readonly topic: string;
}

export interface SequenceCheck {
  readonly records: number;
  readonly symbols: number;
  /** Records written more than once (each extra copy counted). */
  readonly duplicated: number;
  /** Numbers skipped inside a feed: events ingest received and never wrote (or the feed never sent). */
  readonly missing: number;
}

export function checkSequences(records: Iterable<SequencedRecord>, feedStride = Number.POSITIVE_INFINITY): SequenceCheck {
  const bySymbol = new Map<string, SequencedRecord[]>();
  const seen = new Set<string>();
  let count = 0;
  let duplicated = 0;
  for (const record of records) {
    count += 1;
    const identity = `${record.topic}\u0000${record.symbol}\u0000${record.sequence}\u0000${record.sipTimestampMs}`;
    if (seen.has(identity)) {
      duplicated += 1;
      continue;
    }
    seen.add(identity);
    const list = bySymbol.get(record.symbol) ?? [];
    bySymbol.set(record.symbol, list);
    list.push(record);
  }
  let missing = 0;
  for (const list of bySymbol.values()) {
    list.sort((a, b) => a.sipTimestampMs - b.sipTimestampMs || a.sequence - b.sequence);
    for (let index = 1; index < list.length; index += 1) {
      const [previous, current] = [list[index - 1]!.sequence, list[index]!.sequence];
      // A jump by `feedStride` or more is the next feed.
      if (current > previous + 1 && current - previous < feedStride) missing += current - previous - 1;
    }
  }
  return { records: count, symbols: bySymbol.size, duplicated, missing };
}
