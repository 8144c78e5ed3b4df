import { describe, expect, it } from 'vitest';
import type { ClientFrame } from './client/protocol.js';
import { FrameRecorder, frameValidator } from './contract.js';
import { createFrameParser } from './protocol.js';

const limits = {
  maxFrameBytes: 16_384,
  maxEventsPerFrame: 500,
  maxSnapshotItems: 5_000,
  maxSubscriptions: 4,
  maxSymbolsPerSubscription: 10,
  maxCredits: 1_000,
  framesPerSecond: 10,
  frameBurst: 5,
};

describe('the frame recorder', () => {
  it('passes frames the document describes, as text or bytes, and names what is wrong with the others', () => {
    const recorder = new FrameRecorder();
    recorder.record(JSON.stringify({ type: 'welcome', server: 'gw', heartbeatMs: 1000, limits }));
    recorder.record(
      Buffer.from(
        JSON.stringify({
          type: 'events',
          id: 's1',
          cursor: 'c1.x',
          events: [{ p: 0, o: 4, ts: 1, key: 'AAPL', data: { any: 'thing' }, folded: 3 }],
        }),
      ),
    );
    expect(recorder.frames).toBe(2);
    expect(() => recorder.assertConforming()).not.toThrow();

    recorder.record(
      JSON.stringify({ type: 'subscribed', id: 's1', stream: 'patterns', cursor: 'c1.x', backlog: 0, conflate: false, extra: 1 }),
    );
    recorder.record(JSON.stringify({ type: 'events', id: 's1', cursor: 'c1.x', events: [{ p: -1, o: -1, ts: 1, key: 'AAPL', data: {} }] }));
    recorder.record(
      JSON.stringify({ type: 'events', id: 's1', cursor: 'c1.x', events: [{ p: 0, o: 1, ts: 1, key: 'AAPL', data: {}, folded: 1 }] }),
    );
    recorder.record(JSON.stringify({ type: 'subscribe', id: 's1', stream: 'patterns' }));
    recorder.record('{not json');
    expect(recorder.violations).toHaveLength(5);
    expect(recorder.violations[0]).toContain('additionalProperty');
    expect(recorder.violations[1]).toContain('/events/0/p');
    expect(recorder.violations[2]).toContain('/events/0/folded');
    expect(recorder.violations[3]).toContain('no server frame of type "subscribe"');
    expect(recorder.violations[4]).toContain('not JSON');
    expect(() => recorder.assertConforming()).toThrow('5 server frame(s) do not conform');
    expect(recorder.violations).toEqual([]);
  });
});

describe('client frames', () => {
  // The server's parser (zod) and the document (JSON Schema) are two descriptions of one thing: they must agree.
  const parse = createFrameParser(limits);
  const documented = frameValidator('receive');
  const frames: [string, unknown][] = [
    ['auth with a token', { type: 'auth', token: 't' }],
    ['auth with a key', { type: 'auth', apiKey: 'tfk_x_y' }],
    ['auth with both', { type: 'auth', token: 't', apiKey: 'k' }],
    ['auth with neither', { type: 'auth' }],
    ['subscribe, least', { type: 'subscribe', id: 's1', stream: 'patterns' }],
    [
      'subscribe, most',
      {
        type: 'subscribe',
        id: 's.1:a-b_c',
        stream: 'patterns',
        filter: { symbols: ['BRK.B'], universe: 'tech', patterns: ['hammer'], tiers: ['DAILY'], kinds: ['DETECTED'] },
        from: { cursor: 'c1.x' },
        conflate: true,
        credits: 5,
      },
    ],
    ['subscribe from a snapshot', { type: 'subscribe', id: 's1', stream: 'bars', from: 'snapshot' }],
    ['subscribe from earliest', { type: 'subscribe', id: 's1', stream: 'bars', from: 'earliest' }],
    ['subscribe from oldest', { type: 'subscribe', id: 's1', stream: 'bars', from: 'oldest' }],
    ['subscribe from a time', { type: 'subscribe', id: 's1', stream: 'bars', from: { timestamp: 5 } }],
    ['subscribe from offsets', { type: 'subscribe', id: 's1', stream: 'bars', from: { offsets: { '0': 3, '2': 0 } } }],
    ['subscribe from two positions', { type: 'subscribe', id: 's1', stream: 'bars', from: { offsets: { '0': 3 }, timestamp: 1 } }],
    ['subscribe to another stream', { type: 'subscribe', id: 's1', stream: 'trades' }],
    ['subscribe with a bad id', { type: 'subscribe', id: 'a b', stream: 'bars' }],
    ['subscribe with an unknown field', { type: 'subscribe', id: 's1', stream: 'bars', window: 5 }],
    ['subscribe with an unknown filter', { type: 'subscribe', id: 's1', stream: 'bars', filter: { sectors: ['x'] } }],
    ['subscribe with no symbols', { type: 'subscribe', id: 's1', stream: 'bars', filter: { symbols: [] } }],
    ['subscribe with negative credits', { type: 'subscribe', id: 's1', stream: 'bars', credits: -1 }],
    ['credit', { type: 'credit', id: 's1', n: 1 }],
    ['credit of 0', { type: 'credit', id: 's1', n: 0 }],
    ['seek', { type: 'seek', id: 's1', to: 'latest', credits: 0 }],
    ['seek to a snapshot', { type: 'seek', id: 's1', to: 'snapshot' }],
    ['seek to a negative time', { type: 'seek', id: 's1', to: { timestamp: -1 } }],
    ['unsubscribe', { type: 'unsubscribe', id: 's1' }],
    ['ping', { type: 'ping', nonce: 'n' }],
    ['ping with a long nonce', { type: 'ping', nonce: 'n'.repeat(65) }],
    ['pong', { type: 'pong', ts: 1 }],
  ];
  it.each(frames)('%s: the document and the server agree', (_, frame) => {
    const accepted = parse(JSON.stringify(frame)).ok;
    const problem = documented(frame);
    expect(problem === undefined, `server ${accepted ? 'accepts' : 'refuses'}; document: ${problem ?? 'accepts'}`).toBe(accepted);
  });

  it('types the same frames the document describes', () => {
    const typed: ClientFrame = { type: 'seek', id: 's1', to: { timestamp: 1 }, credits: 1 };
    expect(documented(typed)).toBeUndefined();
  });
});
