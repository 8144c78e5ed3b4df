import { describe, expect, it } from 'vitest';
import { checkSequences, type SequencedRecord } from './input-sequences.js';

const feed = (symbol: string, from: number, to: number, startMs: number): SequencedRecord[] =>
  Array.from({ length: to - from + 1 }, (_, index) => ({
    symbol,
    sequence: from + index,
    sipTimestampMs: startMs + index * 10,
    topic: index % 3 === 0 ? 'trades' : 'quotes',
  }));

describe('the input reader: every trade and quote of the feed written once', () => {
  it('accepts feeds that start again at later times, trades and quotes interleaved, a feed joined late', () => {
    const records = [...feed('AAPL', 1, 50, 0), ...feed('AAPL', 7, 40, 1_000_000), ...feed('MSFT', 3, 9, 0)];
    expect(checkSequences(records.reverse())).toEqual({ records: 91, symbols: 2, duplicated: 0, missing: 0 });
  });

  it('counts each extra copy and each number skipped inside a feed', () => {
    const first = feed('AAPL', 1, 20, 0);
    const written = [...first.slice(0, 12), ...first.slice(5, 9), ...first.slice(15)];
    expect(checkSequences(written)).toEqual({ records: 21, symbols: 1, duplicated: 4, missing: 3 });
  });

  it('the same number on a trade and a quote at one time is two records, and equal times order by number', () => {
    const records: SequencedRecord[] = [
      { symbol: 'A', sequence: 2, sipTimestampMs: 5, topic: 'quotes' },
      { symbol: 'A', sequence: 1, sipTimestampMs: 5, topic: 'trades' },
      { symbol: 'A', sequence: 1, sipTimestampMs: 5, topic: 'quotes' },
    ];
    expect(checkSequences(records)).toEqual({ records: 3, symbols: 1, duplicated: 0, missing: 0 });
  });

  it('a jump of a feed stride or more is the next feed; a smaller one inside a feed is missing numbers', () => {
    const records = [...feed('AAPL', 1, 10, 0), ...feed('AAPL', 1001, 1010, 5_000), ...feed('AAPL', 1015, 1020, 6_000)];
    expect(checkSequences(records, 500)).toEqual({ records: 26, symbols: 1, duplicated: 0, missing: 4 });
  });
});
