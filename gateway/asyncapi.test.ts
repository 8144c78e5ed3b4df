import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CLIENT_FRAME_TYPES } from './protocol.js';

const text = readFileSync(new URL('./asyncapi.yaml', import.meta.url), 'utf8');
const SERVER_FRAME_TYPES = ['welcome', 'authenticated', 'subscribed', 'events', 'resumed', 'snapshot', 'unrecoverable', 'seeked', 'unsubscribed', 'heartbeat', 'pong', 'error'];

describe('asyncapi.yaml', () => {
  it('is a valid AsyncAPI 3.1 document', async () => {
    const { document, diagnostics } = await new Parser().parse(text);
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === 0).map((diagnostic) => diagnostic.message)).toEqual([]);
    expect(document?.version()).toBe('3.1.0');
    const names = document!.allMessages().all().map((message) => message.name());
    expect(names.sort()).toEqual([...CLIENT_FRAME_TYPES, ...SERVER_FRAME_TYPES].sort());
  });

  it('describes the frames the gateway accepts and sends', () => {
    const spec = parseYaml(text) as { components: { messages: Record<string, { payload: object }>; schemas: Record<string, object> } };
    const ajv = new Ajv2020.default({ strict: false });
    ajv.addSchema({ $id: 'spec', components: spec.components });
    const validate = (name: string, frame: object) => {
      const check = ajv.compile({ $ref: `spec#/components/messages/${name}/payload` });
      expect(check(frame), `${name}: ${JSON.stringify(check.errors)}`).toBe(true);
    };
    validate('subscribe', { type: 'subscribe', id: 's1', stream: 'patterns', filter: { symbols: ['AAPL'], tiers: ['DAILY'] }, from: { cursor: 'c1.x' }, conflate: true, credits: 5 });
    validate('subscribe', { type: 'subscribe', id: 's1', stream: 'bars', from: 'snapshot' });
    validate('seek', { type: 'seek', id: 's1', to: { timestamp: 1 }, credits: 3 });
    validate('events', { type: 'events', id: 's1', cursor: 'c1.x', events: [{ p: 0, o: 1, ts: 2, key: 'AAPL', data: {}, folded: 2 }] });
    validate('resumed', { type: 'resumed', id: 's1', cursor: 'c1.x', report: { count: 1, range: { '0': [0, 1] }, fromRing: 1, fromKafka: 0, lagRecords: 0, lagMs: 3 } });
    validate('unrecoverable', { type: 'unrecoverable', id: 's1', reason: 'retention', requested: { '0': 0 }, oldest: 'c1.y', oldestOffsets: { '0': 3 }, snapshotAvailable: true });
    validate('error', { type: 'error', code: 'bad_field', message: 'n: too small', id: 's1', path: 'n' });
    const invalid = ajv.compile({ $ref: 'spec#/components/messages/subscribe/payload' });
    expect(invalid({ type: 'subscribe', id: 's1', stream: 'trades' })).toBe(false);
  });
});
