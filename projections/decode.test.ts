import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import type { AvroCodec } from '../platform/codec.js';
import { BROADCAST_COPY_HEADER } from '../platform/broadcast.js';
import { pauseWhileBehind, prepareMessages } from './db-sink.js';
import { decodeMessages } from './decode.js';
import { bar, symbolReference } from '../test/record-fixtures.js';

const message = (
  offset: number,
  value: Buffer | null,
  extra: { key?: Buffer | null; headers?: Record<string, string> } = {},
): KafkaMessage => ({
  key: extra.key === undefined ? Buffer.from('AAPL') : extra.key,
  value,
  timestamp: '0',
  attributes: 0,
  offset: String(offset),
  headers: extra.headers ?? {},
});

/** A codec stub: "json:" buffers decode, "bad" ones throw like Avro does, "new:" ones need a registry look-up. */
function stubCodec(registry: 'up' | 'down' | 'unknown-id'): AvroCodec {
  return {
    decodeCached: (buffer: Buffer) => {
      const text = buffer.toString();
      if (text.startsWith('json:')) return JSON.parse(text.slice(5));
      if (text.startsWith('new:')) return undefined;
      throw new Error('truncated buffer');
    },
    decode: async (buffer: Buffer) => {
      if (registry === 'down') throw new TypeError('fetch failed');
      if (registry === 'unknown-id') throw new Error('Schema not found');
      return JSON.parse(buffer.toString().slice(4));
    },
  } as unknown as AvroCodec;
}

describe('decodeMessages', () => {
  it('decodes values, reports tombstones, broadcast copies and undecodable bytes without throwing', async () => {
    const decoded = await decodeMessages(stubCodec('up'), [
      message(0, Buffer.from('json:{"a":1}')),
      message(1, null),
      message(2, Buffer.from('json:{}'), { headers: { [BROADCAST_COPY_HEADER]: '1' } }),
      message(3, Buffer.from('garbage')),
      message(4, Buffer.from('new:{"b":2}')),
      message(5, null, { key: null }),
    ]);
    expect(decoded.map((item) => item.kind)).toEqual(['value', 'tombstone', 'skip', 'undecodable', 'value', 'tombstone']);
    expect(decoded[4]).toMatchObject({ value: { b: 2 } });
    expect(decoded[3]).toMatchObject({ reason: 'undecodable: truncated buffer' });
  });

  it('throws when the registry cannot be reached (retry the batch), but keeps unknown schema ids as bad input', async () => {
    await expect(decodeMessages(stubCodec('down'), [message(0, Buffer.from('new:{}'))])).rejects.toThrow(/fetch failed/);
    const decoded = await decodeMessages(stubCodec('unknown-id'), [message(0, Buffer.from('new:{}'))]);
    expect(decoded[0]).toMatchObject({ kind: 'undecodable', reason: 'undecodable: Schema not found' });
  });
});

describe('prepareMessages', () => {
  it('turns decoded messages into rows, tombstones, rejects and skips', () => {
    const minute = bar('AAPL', 'MINUTE', Date.UTC(2026, 0, 2, 15), 60_000, 10, 11, 100);
    const prepared = prepareMessages('minuteAggregates', 'm', 0, [
      { offset: 0, kind: 'value', value: minute, raw: Buffer.from('x') },
      { offset: 1, kind: 'value', value: { ...minute, interval: 'DAY' }, raw: Buffer.from('y') },
      { offset: 2, kind: 'tombstone', key: 'AAPL' },
      { offset: 3, kind: 'skip' },
      { offset: 4, kind: 'undecodable', reason: 'undecodable: x', raw: Buffer.from('z') },
      { offset: 5, kind: 'value', value: null, raw: Buffer.from('w') },
    ]);
    expect(prepared.map((item) => item.kind)).toEqual(['row', 'reject', 'reject', 'skip', 'reject', 'reject']);
    expect(prepared[1]).toMatchObject({ reason: 'invalid: a DAY bar on the MINUTE topic' });
    expect(prepared[2]).toMatchObject({ reason: 'null value on a topic without tombstones', payload: null });
    expect(prepared[5]).toMatchObject({ kind: 'reject', payload: Buffer.from('w') });
  });

  it('accepts tombstones on the compacted reference topics', () => {
    const prepared = prepareMessages('symbols', 's', 0, [
      { offset: 0, kind: 'value', value: symbolReference('AAPL'), raw: Buffer.from('x') },
      { offset: 1, kind: 'tombstone', key: 'GONE' },
      { offset: 2, kind: 'tombstone', key: null },
    ]);
    expect(prepared.map((item) => item.kind)).toEqual(['row', 'tombstone', 'reject']);
  });
});

describe('pauseWhileBehind', () => {
  it('pauses the partition while the pool has waiters and resumes when a release leaves none', async () => {
    const { EventEmitter } = await import('node:events');
    const pool = Object.assign(new EventEmitter(), { waitingCount: 2 });
    const calls: string[] = [];
    const done = pauseWhileBehind(pool, () => {
      calls.push('pause');
      return () => calls.push('resume');
    });
    expect(calls).toEqual(['pause']);
    pool.waitingCount = 1;
    pool.emit('release');
    expect(calls).toEqual(['pause']);
    pool.waitingCount = 0;
    pool.emit('release');
    await done;
    expect(calls).toEqual(['pause', 'resume']);
    expect(pool.listenerCount('release')).toBe(0);
  });

  it('resumes when the waiters left without a release (their connect failed: the database went away)', async () => {
    const { EventEmitter } = await import('node:events');
    const pool = Object.assign(new EventEmitter(), { waitingCount: 1 });
    const calls: string[] = [];
    const done = pauseWhileBehind(
      pool,
      () => {
        calls.push('pause');
        return () => calls.push('resume');
      },
      5,
    );
    pool.waitingCount = 0; // no 'release' is emitted
    await done;
    expect(calls).toEqual(['pause', 'resume']);
    expect(pool.listenerCount('release')).toBe(0);
  });

  it('does not pause when nobody waits', async () => {
    let paused = false;
    await pauseWhileBehind({ waitingCount: 0, on: () => undefined, off: () => undefined }, () => {
      paused = true;
      return () => {};
    });
    expect(paused).toBe(false);
  });
});
