import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicName } from '../platform/index.js';
import { minuteBars } from '../test/record-fixtures.js';
import type { ServerFrame } from './client/protocol.js';
import { decodeCursor } from './cursor.js';
import { createGatewayTestEnv, RawClient, type GatewayTestEnv } from './testing.js';

let env: GatewayTestEnv;

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-txn', ['minuteAggregates']);
});

afterAll(async () => {
  await env?.cleanup();
});

describe('transactional topics', () => {
  it('delivers committed records only and moves positions past control records', async () => {
    const topic = topicName('minuteAggregates', env.kafka.prefix);
    const encode = await env.kafka.codec.encoderFor<unknown>('minuteAggregates');
    const producer = env.kafka.kafka.producer({ transactionalId: `gw-txn-${Date.now()}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [aborted, committed] = [minuteBars(['ABRT'], 3), minuteBars(['OKAY'], 2)];
    const abortedTxn = await producer.transaction();
    await abortedTxn.send({ topic, messages: aborted.map((value) => ({ key: value.symbol, value: encode(value), partition: 0 })) });
    await abortedTxn.abort();
    const committedTxn = await producer.transaction();
    await committedTxn.send({ topic, messages: committed.map((value) => ({ key: value.symbol, value: encode(value), partition: 0 })) });
    await committedTxn.commit();
    await producer.disconnect();

    const gateway = await env.start({ streams: ['bars'] });
    const user = await env.createUser();
    const client = await RawClient.connect(gateway.url, { token: user.token });
    client.send({ type: 'subscribe', id: 't', stream: 'bars', from: 'earliest', credits: 100 });
    const resumed = await client.next<Extract<ServerFrame, { type: 'resumed' }>>((frame) => frame.type === 'resumed');
    expect(client.events('t').map((event) => event.key)).toEqual(['OKAY', 'OKAY']);
    // 3 aborted + abort marker + 2 committed + commit marker: the position ends past all of them.
    expect(decodeCursor(resumed.cursor).next[0]).toBe(7);
    expect(resumed.report.count).toBe(2);
    client.close();
  });
});
