import { describe, expect, it } from 'vitest';
import { WireFormatError, type AvroCodec } from '../platform/index.js';
import { avroDecoder } from './kafka-log.js';

const record = (value: Buffer) => ({
  partition: 1,
  offset: 7,
  timestampMs: 1_700_000_000_000,
  key: Buffer.from('AAPL'),
  value,
  headers: [],
});

/** A codec whose cache holds one good value; any other bytes are not Avro, or fail on the (stubbed) registry. */
function stubCodec(registryError?: Error): AvroCodec {
  const good = Buffer.from('good');
  return {
    decodeCached: (buffer: Buffer) => {
      if (buffer.equals(good)) return { pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED' };
      if (buffer[0] !== 0) throw new WireFormatError('not a Confluent wire-format message');
      return undefined;
    },
    decode: () => Promise.reject(registryError ?? new Error('no schema with id 99')),
  } as unknown as AvroCodec;
}

describe('avroDecoder (issue 18 sibling: an undecodable record stopped the stream)', () => {
  it('decodes good values and skips undecodable ones instead of failing the tail read', async () => {
    const decode = avroDecoder(stubCodec());
    expect(await decode(record(Buffer.from('good')))).toMatchObject({ partition: 1, offset: 7, key: 'AAPL' });
    expect(decode(record(Buffer.from('not avro')))).toBeUndefined();
    expect(await decode(record(Buffer.from([0, 0, 0, 0, 99, 1])))).toBeUndefined();
  });

  it('still fails the read when the registry cannot be reached (the read is retried, nothing is skipped)', async () => {
    const decode = avroDecoder(stubCodec(new TypeError('fetch failed')));
    await expect(decode(record(Buffer.from([0, 0, 0, 0, 99, 1])))).rejects.toThrow(/fetch failed/);
  });
});
