import { describe, expect, it } from 'vitest';
import {
  CsvWriter,
  matchesSymbols,
  parseBound,
  planReplay,
  ReplayArgumentError,
  toJsonLine,
  totalRecords,
  type ReplayRecord,
} from './replay-plan.js';

const watermarks = [
  { partition: 1, low: 10n, high: 50n },
  { partition: 0, low: 0n, high: 20n },
];

describe('parseBound', () => {
  it('reads every form', () => {
    expect(parseBound('earliest', '--from')).toEqual({ kind: 'earliest' });
    expect(parseBound('latest', '--from')).toEqual({ kind: 'latest' });
    expect(parseBound('42', '--from')).toEqual({ kind: 'offset', offset: 42n });
    expect(parseBound('0:5,1:7', '--from')).toEqual({
      kind: 'partitionOffsets',
      offsets: new Map([
        [0, 5n],
        [1, 7n],
      ]),
    });
    expect(parseBound('2026-11-26T10:00:00Z', '--from')).toEqual({ kind: 'time', ms: Date.parse('2026-11-26T10:00:00Z') });
  });

  it('names the flag in its errors', () => {
    expect(() => parseBound('yesterday', '--to')).toThrow(ReplayArgumentError);
    expect(() => parseBound('yesterday', '--to')).toThrow(/--to/);
    expect(() => parseBound('2026-13-45T99:00', '--from')).toThrow(/ISO-8601/);
  });
});

describe('planReplay', () => {
  it('reads everything from earliest to the current end by default', () => {
    const ranges = planReplay(watermarks, { kind: 'earliest' }, undefined);
    expect(ranges).toEqual([
      { partition: 0, start: 0n, end: 20n },
      { partition: 1, start: 10n, end: 50n },
    ]);
    expect(totalRecords(ranges)).toBe(60);
  });

  it('clamps offsets to what the log holds and makes an offset --to inclusive', () => {
    expect(planReplay(watermarks, { kind: 'offset', offset: 5n }, { kind: 'offset', offset: 15n })).toEqual([
      { partition: 0, start: 5n, end: 16n },
      { partition: 1, start: 10n, end: 16n },
    ]);
    expect(planReplay(watermarks, { kind: 'offset', offset: 100n }, undefined)).toEqual([
      { partition: 0, start: 20n, end: 20n },
      { partition: 1, start: 50n, end: 50n },
    ]);
  });

  it('reads named partitions only, and resolves times through the broker offsets', () => {
    expect(planReplay(watermarks, { kind: 'partitionOffsets', offsets: new Map([[1, 40n]]) }, undefined)).toEqual([
      { partition: 0, start: 20n, end: 20n },
      { partition: 1, start: 40n, end: 50n },
    ]);
    const ranges = planReplay(
      watermarks,
      { kind: 'time', ms: 1 },
      { kind: 'time', ms: 2 },
      {
        from: new Map([
          [0, 3n],
          [1, 12n],
        ]),
        to: new Map([[0, 9n]]),
      },
    );
    expect(ranges).toEqual([
      { partition: 0, start: 3n, end: 9n },
      { partition: 1, start: 12n, end: 50n },
    ]);
    expect(planReplay(watermarks, { kind: 'latest' }, { kind: 'earliest' })).toEqual([
      { partition: 0, start: 20n, end: 20n },
      { partition: 1, start: 50n, end: 50n },
    ]);
  });
});

const record: ReplayRecord = {
  topic: 'patterns.events.v1',
  partition: 2,
  offset: '7',
  timestamp: '2026-11-26T10:00:00.000Z',
  key: 'AAPL',
  value: { symbol: 'AAPL', note: 'a "quoted", value', levels: { support: 1.5 }, raw: Buffer.from('hi'), big: 5n },
};

describe('output', () => {
  it('filters by key or value symbol', () => {
    expect(matchesSymbols(record, undefined)).toBe(true);
    expect(matchesSymbols(record, new Set(['AAPL']))).toBe(true);
    expect(matchesSymbols({ ...record, key: null }, new Set(['AAPL']))).toBe(true);
    expect(matchesSymbols({ ...record, key: null, value: { ticker: 'MSFT' } }, new Set(['MSFT']))).toBe(true);
    expect(matchesSymbols(record, new Set(['MSFT']))).toBe(false);
  });

  it('writes JSON lines with bytes as base64 and bigints as strings', () => {
    const parsed = JSON.parse(toJsonLine(record)) as { value: { raw: string; big: string } };
    expect(parsed.value.raw).toBe(Buffer.from('hi').toString('base64'));
    expect(parsed.value.big).toBe('5');
  });

  it('writes CSV with a header, quoting where needed', () => {
    const csv = new CsvWriter();
    expect(csv.header(record)).toBe('topic,partition,offset,timestamp,key,symbol,note,levels,raw,big');
    expect(csv.row(record)).toBe(
      `patterns.events.v1,2,7,2026-11-26T10:00:00.000Z,AAPL,AAPL,"a ""quoted"", value","{""support"":1.5}",aGk=,5`,
    );
    expect(new CsvWriter().row({ ...record, key: null, value: { a: null } })).toBe('patterns.events.v1,2,7,2026-11-26T10:00:00.000Z,,');
  });
});
