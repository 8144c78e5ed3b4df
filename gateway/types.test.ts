import { describe, expect, it } from 'vitest';
import { eventJson, makeEvent } from './types.js';

describe('makeEvent', () => {
  it('holds the envelope JSON as bytes and the tags subscriptions filter on', () => {
    const data = { pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED', price: 1.5 };
    const event = makeEvent(2, 41, 1_700_000_000_000, 'AAPL', data);
    expect(event.wire.toString('utf8')).toBe(eventJson(2, 41, 1_700_000_000_000, 'AAPL', data));
    expect(JSON.parse(event.wire.toString('utf8'))).toEqual({ p: 2, o: 41, ts: 1_700_000_000_000, key: 'AAPL', data });
    expect(event.tags).toEqual({ pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED' });
  });
});
