import { describe, expect, it } from 'vitest';
import { ReplayCursor, eventTimeOf, parseRecording } from './replay.js';
import { SubscriptionSet } from './subscriptions.js';

describe('SubscriptionSet', () => {
  it('matches whole channels and single tickers; unsubscribe removes them', () => {
    const set = new SubscriptionSet();
    expect(set.empty).toBe(true);
    expect(set.apply('T.*, Q.AAPL,bogus,AM.', true)).toEqual(['T.*', 'Q.AAPL']);
    expect(set.matches('T', 'MSFT')).toBe(true);
    expect(set.matches('Q', 'AAPL')).toBe(true);
    expect(set.matches('Q', 'MSFT')).toBe(false);
    set.apply('T.*', false);
    expect(set.matches('T', 'MSFT')).toBe(false);
    set.apply('Q.AAPL', false);
    expect(set.empty).toBe(true);
  });
});

describe('recordings', () => {
  const text = [
    JSON.stringify([{ ev: 'status', status: 'connected', message: '' }]),
    JSON.stringify([
      { ev: 'T', sym: 'A', t: 1000 },
      { ev: 'Q', sym: 'A', t: 1500 },
    ]),
    '',
    JSON.stringify({ ev: 'AM', sym: 'A', s: 0, e: 60_000 }),
    JSON.stringify({ ev: 'FMV', sym: 'A', t: 1_700_000_000_000_000_000 }),
    JSON.stringify([{ ev: 'T', sym: 'A' }, 7]),
  ].join('\n');

  it('parses frames and single items, skipping status items and items without time', () => {
    const events = parseRecording(text);
    expect(events.map((event) => event.timeMs)).toEqual([1000, 1500, 60_000, 1_700_000_000_000]);
    expect(eventTimeOf({ ev: 'status' })).toBeUndefined();
    expect(() => parseRecording('[1]\nnot json')).toThrow('recording line 2 is not JSON');
  });

  it('plays back at the recorded pace divided by speed', () => {
    const cursor = new ReplayCursor(parseRecording(text).slice(0, 3), 10);
    expect(cursor.due(0)).toHaveLength(1);
    expect(cursor.due(49)).toHaveLength(0);
    expect(cursor.due(50)).toHaveLength(1);
    expect(cursor.done).toBe(false);
    expect(cursor.due(5900)).toHaveLength(1);
    expect(cursor.done).toBe(true);
    expect(new ReplayCursor([], 1).due(100)).toEqual([]);
    expect(() => new ReplayCursor([], 0)).toThrow(RangeError);
  });
});
