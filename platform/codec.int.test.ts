import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { AvroCodec, Partitioners, readSchemaId, schemaText, valueSubject, WIRE_MAGIC_BYTE } from './index.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';

const trade = {
  symbol: 'AAPL',
  exchange: 4,
  tradeId: '52983525029461',
  tape: 3,
  price: 191.23,
  size: 100,
  fractionalSize: null,
  conditions: [12, 37],
  sipTimestampMs: 1_700_000_000_123,
  sequence: 1234,
  trfId: null,
  trfTimestampMs: null,
  source: 'simulator',
  ingestedAtMs: 1_700_000_000_200,
};

describe('Avro through the real broker and registry', () => {
  let env: TestKafka;
  beforeAll(async () => {
    env = await createTestTopics('codec', ['trades']);
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('round-trips a trade in the Confluent wire format through a consumer group', async () => {
    const topic = env.codec.topic('trades');
    const encode = await env.codec.encoderFor<typeof trade>('trades');
    const value = encode(trade);
    expect(value[0]).toBe(WIRE_MAGIC_BYTE);
    expect(readSchemaId(value)).toBe(await env.codec.schemaIdFor('trades'));

    const producer = env.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: trade.symbol, value }] });
    await producer.disconnect();

    const consumer = env.kafka.consumer({ groupId: `${env.prefix}codec-group` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<{ key: string; decoded: unknown }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          resolve({ key: message.key!.toString(), decoded: await env.codec.decode(message.value!) });
        },
      });
    });
    const { key, decoded } = await received;
    await consumer.disconnect();
    expect(key).toBe('AAPL');
    expect(decoded).toEqual(trade);
  });

  it('decodes with a codec that has never seen the schema (data engineers read any topic)', async () => {
    const encoded = await env.codec.encode('trades', trade);
    const freshReader = new AvroCodec(env.registryUrl, env.prefix);
    expect(freshReader.decodeCached(encoded)).toBeUndefined();
    expect(await freshReader.decode(encoded)).toEqual(trade);
    expect(freshReader.decodeCached(encoded)).toEqual(trade);
  });

  it('rejects a value that does not match the schema, naming the field', async () => {
    const encode = await env.codec.encoderFor<Record<string, unknown>>('trades');
    expect(() => encode({ ...trade, price: 'not a number' })).toThrow(/price/);
  });

  it('rejects bytes that are not in the wire format', async () => {
    await expect(env.codec.decode(Buffer.from('{"json":true}'))).rejects.toThrow(/wire-format/);
  });
});

describe('schema evolution under BACKWARD compatibility', () => {
  const codec = new AvroCodec(process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7', '');
  const subject = valueSubject(`test.evolution.${randomBytes(4).toString('hex')}`);
  const base = JSON.parse(schemaText('trades')) as { fields: { name: string; type: unknown; default?: unknown }[] };

  it('accepts a new optional field and rejects an incompatible change', async () => {
    const first = await codec.registerSchema(subject, JSON.stringify(base));
    const withOptional = { ...base, fields: [...base.fields, { name: 'venue', type: ['null', 'string'], default: null }] };
    const second = await codec.registerSchema(subject, JSON.stringify(withOptional));
    expect(second).not.toBe(first);

    // A new required field has no default: old data cannot be read with it, so BACKWARD forbids it.
    const incompatible = { ...withOptional, fields: [...withOptional.fields, { name: 'mandatory', type: 'long' }] };
    await expect(codec.registerSchema(subject, JSON.stringify(incompatible))).rejects.toThrow(/Incompatible/);

    const config = (await (await fetch(`${codec['registryUrl']}/config/${subject}`)).json()) as { compatibilityLevel: string };
    expect(config.compatibilityLevel).toBe('BACKWARD');
  });
});
