import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { DISCONNECTS } from './client/protocol.js';
import { ASYNCAPI_PATH, frameValidator } from './contract.js';
import { CLIENT_FRAME_TYPES } from './protocol.js';

const text = readFileSync(ASYNCAPI_PATH, 'utf8');
const SERVER_FRAME_TYPES = [
  'welcome',
  'authenticated',
  'subscribed',
  'events',
  'resumed',
  'snapshot',
  'unrecoverable',
  'seeked',
  'unsubscribed',
  'heartbeat',
  'pong',
  'error',
];

describe('asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3.1 document, without warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(text);
    expect(diagnostics.map((diagnostic) => diagnostic.message)).toEqual([]);
    expect(document?.version()).toBe('3.1.0');
    const names = document!
      .allMessages()
      .all()
      .map((message) => message.name());
    expect(names.sort()).toEqual([...CLIENT_FRAME_TYPES, ...SERVER_FRAME_TYPES].sort());
  });

  it('describes the frames the gateway accepts and sends', () => {
    const client = frameValidator('receive');
    const server = frameValidator('send');
    expect(
      client({
        type: 'subscribe',
        id: 's1',
        stream: 'patterns',
        filter: { symbols: ['AAPL'], tiers: ['DAILY'] },
        from: { cursor: 'c1.x' },
        conflate: true,
        credits: 5,
      }),
    ).toBeUndefined();
    expect(client({ type: 'subscribe', id: 's1', stream: 'bars', from: 'snapshot' })).toBeUndefined();
    expect(client({ type: 'seek', id: 's1', to: { timestamp: 1 }, credits: 3 })).toBeUndefined();
    expect(client({ type: 'subscribe', id: 's1', stream: 'trades' })).toContain('/stream');
    expect(
      server({ type: 'events', id: 's1', cursor: 'c1.x', events: [{ p: 0, o: 1, ts: 2, key: 'AAPL', data: {}, folded: 2 }] }),
    ).toBeUndefined();
    expect(
      server({
        type: 'resumed',
        id: 's1',
        cursor: 'c1.x',
        report: { count: 1, range: { '0': [0, 1] }, fromRing: 1, fromKafka: 0, lagRecords: 0, lagMs: 3 },
      }),
    ).toBeUndefined();
    expect(
      server({
        type: 'unrecoverable',
        id: 's1',
        reason: 'retention',
        requested: { '0': 0 },
        oldest: 'c1.y',
        oldestOffsets: { '0': 3 },
        snapshotAvailable: true,
      }),
    ).toBeUndefined();
    expect(server({ type: 'error', code: 'bad_field', message: 'n: too small', id: 's1', path: 'n' })).toBeUndefined();
    expect(
      server({
        type: 'snapshot',
        id: 's1',
        cursor: 'c1.x',
        source: 'redis',
        items: [{ key: 'SPY', ts: 1, data: { symbol: 'SPY', close: 2 } }],
      }),
    ).toBeUndefined();
    // A snapshot item is a state: no position, and data of one of the two documented shapes.
    expect(
      server({
        type: 'snapshot',
        id: 's1',
        cursor: 'c1.x',
        source: 'redis',
        items: [{ p: -1, o: -1, key: 'SPY', ts: 1, data: { symbol: 'SPY' } }],
      }),
    ).toContain('additional');
    expect(
      server({
        type: 'snapshot',
        id: 's1',
        cursor: 'c1.x',
        source: 'redis',
        items: [{ key: 'SPY', ts: 1, data: { symbol: 'SPY', status: 'active' } }],
      }),
    ).toContain('/items/0/data');
  });

  it('documents every close code the gateway sends', () => {
    const paragraph = text.slice(text.indexOf('**Close codes:**'), text.indexOf('servers:')).replace(/\s+/g, ' ');
    const sent = [
      DISCONNECTS.idle,
      DISCONNECTS.authTimeout,
      DISCONNECTS.authFailed,
      DISCONNECTS.stalled,
      DISCONNECTS.flood,
      DISCONNECTS.full,
      DISCONNECTS.shutdown,
    ];
    for (const { code } of sent) expect(paragraph).toMatch(new RegExp(`\\b${code}\\b`));
  });
});
