import { describe, expect, it } from 'vitest';
import { diffLatestEvents, holdsLatestEvents, type TopicEventRef } from './latest-events.js';

const events = (times: readonly number[]): TopicEventRef[] => times.map((detectedAtMs, index) => ({ eventId: `e${index}`, detectedAtMs }));

describe('diffLatestEvents', () => {
  it('asks for every event while a symbol has no more than the cap', () => {
    const topic = events([1, 2, 3]);
    expect(diffLatestEvents(topic, ['e0', 'e1', 'e2'], 5)).toEqual({ missing: 0, duplicates: 0, extra: 0 });
    expect(diffLatestEvents(topic, ['e0', 'e2'], 5)).toEqual({ missing: 1, duplicates: 0, extra: 0 });
    expect(diffLatestEvents(topic, ['e0', 'e1', 'e2', 'zz'], 5)).toEqual({ missing: 0, duplicates: 0, extra: 1 });
  });

  it('asks for the latest cap events of a symbol with more, whatever the topic order', () => {
    const topic = events([5, 1, 9, 3, 7, 2]);
    expect(holdsLatestEvents(topic, ['e2', 'e4', 'e0'], 3)).toBe(true);
    // An older event kept in place of a later one is both extra and missing.
    expect(diffLatestEvents(topic, ['e2', 'e4', 'e3'], 3)).toEqual({ missing: 1, duplicates: 0, extra: 1 });
    // Too few held.
    expect(diffLatestEvents(topic, ['e2', 'e4'], 3)).toEqual({ missing: 1, duplicates: 0, extra: 0 });
  });

  it('accepts either of the events tied at the boundary, but not both missing', () => {
    const topic = events([10, 8, 8, 4]);
    expect(holdsLatestEvents(topic, ['e0', 'e1'], 2)).toBe(true);
    expect(holdsLatestEvents(topic, ['e0', 'e2'], 2)).toBe(true);
    expect(diffLatestEvents(topic, ['e0'], 2)).toEqual({ missing: 1, duplicates: 0, extra: 0 });
    expect(diffLatestEvents(topic, ['e1', 'e2'], 2)).toEqual({ missing: 1, duplicates: 0, extra: 0 });
  });

  it('counts a member held twice as a duplicate', () => {
    expect(diffLatestEvents(events([1, 2]), ['e0', 'e1', 'e1'], 5)).toEqual({ missing: 0, duplicates: 1, extra: 0 });
  });

  it('asks for nothing of a symbol with no events', () => {
    expect(diffLatestEvents([], [], 50)).toEqual({ missing: 0, duplicates: 0, extra: 0 });
    expect(diffLatestEvents([], ['e9'], 50)).toEqual({ missing: 0, duplicates: 0, extra: 1 });
  });
});
