import { describe, expect, it } from 'vitest';
import { createFrameParser, TokenBucket } from './protocol.js';

describe('frame parser', () => {
  const limits = {
    maxFrameBytes: 512,
    maxEventsPerFrame: 500,
    maxSnapshotItems: 5000,
    maxSubscriptions: 4,
    maxSymbolsPerSubscription: 3,
    maxCredits: 1000,
    framesPerSecond: 10,
    frameBurst: 5,
  };
  const parse = createFrameParser(limits);

  it('accepts every documented frame', () => {
    for (const frame of [
      { type: 'auth', token: 'x.y.z' },
      { type: 'auth', apiKey: 'tfk_x' },
      {
        type: 'subscribe',
        id: 's1',
        stream: 'patterns',
        filter: { symbols: ['AAPL'], tiers: ['DAILY'], kinds: ['DETECTED'], patterns: ['doji'], universe: 'tech' },
        from: 'snapshot',
        conflate: true,
        credits: 10,
      },
      { type: 'subscribe', id: 's1', stream: 'bars', from: { timestamp: 5 } },
      { type: 'subscribe', id: 's1', stream: 'bars', from: { offsets: { '0': 5 } } },
      { type: 'credit', id: 's1', n: 5 },
      { type: 'seek', id: 's1', to: { cursor: 'c1.x' } },
      { type: 'seek', id: 's1', to: 'earliest' },
      { type: 'unsubscribe', id: 's1' },
      { type: 'ping', nonce: 'n' },
      { type: 'ping' },
    ]) {
      expect(parse(JSON.stringify(frame))).toEqual({ ok: true, frame });
    }
  });

  it.each([
    ['{', 'malformed_json'],
    ['[1]', 'malformed_json'],
    ['null', 'malformed_json'],
    ['{"type":"nope"}', 'unknown_type'],
    ['{"id":"a"}', 'unknown_type'],
    ['{"type":"auth"}', 'bad_field'],
    ['{"type":"auth","token":"a","apiKey":"b"}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"trades"}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"bars","extra":1}', 'bad_field'],
    ['{"type":"subscribe","id":"bad id","stream":"bars"}', 'bad_field'],
    ['{"type":"credit","id":"s","n":0}', 'bad_field'],
    ['{"type":"credit","id":"s","n":1001}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"bars","filter":{"symbols":["A","B","C","D"]}}', 'subscription_too_large'],
    [JSON.stringify({ type: 'ping', nonce: 'x'.repeat(600) }), 'frame_too_large'],
  ])('rejects %s with %s', (text, code) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.message.length).toBeGreaterThan(5);
    }
  });

  it('names the field and the subscription in a bad_field error', () => {
    const result = parse('{"type":"credit","id":"s9","n":-1}');
    expect(result).toMatchObject({ ok: false, code: 'bad_field', path: 'n', id: 's9' });
  });
});

describe('TokenBucket', () => {
  it('allows a burst then the rate', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(10_000)).toBe(true);
  });
});
