import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { detectLayout, flatRowToRecord, importFlatFile, intervalFromPath } from './flatfile.js';
import type { AggregateRecord, TradeRecord } from './records.js';
import { MemorySink } from './testing/memory-sink.js';

const directory = mkdtempSync(join(tmpdir(), 'ingest-flat-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const MINUTE_CSV = [
  'ticker,volume,open,close,high,low,window_start,transactions',
  'A,4930,200.29,200.5,200.63,200.29,1744792500000000000,129',
  'AA,1815,28.01,28.05,28.1,28,1744792500000000000,52',
  'BAD,10,abc,1,1,1,1744792500000000000,1',
  'AAPL,12.5,1,1,1,1,1744792560000000000,3',
].join('\n');

describe('flat-file layouts', () => {
  it('detects the aggregate and trade layouts, and names what is missing otherwise', () => {
    expect(detectLayout(MINUTE_CSV.split('\n')[0]!.split(','))).toBe('aggregates');
    expect(
      detectLayout([
        'ticker',
        'conditions',
        'correction',
        'exchange',
        'id',
        'participant_timestamp',
        'price',
        'sequence_number',
        'sip_timestamp',
        'size',
        'tape',
        'trf_id',
        'trf_timestamp',
      ]),
    ).toBe('trades');
    expect(() => detectLayout(['a', 'b'])).toThrow(/unknown flat-file layout/);
  });

  it('reads the interval from the Massive path', () => {
    expect(intervalFromPath('us_stocks_sip/minute_aggs_v1/2025/04/2025-04-16.csv.gz')).toBe('MINUTE');
    expect(intervalFromPath('/data/day_aggs_v1/2025-04-16.csv.gz')).toBe('DAY');
    expect(intervalFromPath('x.csv')).toBeUndefined();
  });

  it('maps a trade row: ns timestamps to ms, conditions list, fractional size kept', () => {
    const record = flatRowToRecord(
      'trades',
      {
        ticker: 'AAPL',
        conditions: '12,37',
        correction: '0',
        exchange: '11',
        id: '1',
        participant_timestamp: '1744812000000000000',
        price: '202.5',
        sequence_number: '1234',
        sip_timestamp: '1744812000123456789',
        size: '0.5',
        tape: '3',
        trf_id: '',
        trf_timestamp: '',
      },
      'MINUTE',
      5,
    );
    expect(record.topic).toBe('trades');
    expect(record.value as TradeRecord).toMatchObject({
      exchange: 11,
      tradeId: '1',
      conditions: [12, 37],
      sipTimestampMs: 1744812000123,
      sequence: 1234,
      size: 0,
      fractionalSize: '0.5',
      trfId: null,
      source: 'file',
    });
    expect(() =>
      flatRowToRecord(
        'trades',
        { ticker: 'X', conditions: 'a', exchange: '1', id: '1', price: '1', sequence_number: '1', sip_timestamp: '1', size: '1' },
        'MINUTE',
        0,
      ),
    ).toThrow(/conditions/);
    expect(() => flatRowToRecord('aggregates', { ticker: '' }, 'MINUTE', 0)).toThrow('column ticker is empty');
  });
});

describe('importFlatFile', () => {
  it('streams a gzipped minute file into minute bars, dead-letters the bad row, reports progress', async () => {
    const path = join(directory, 'minute_aggs_v1-2025-04-16.csv.gz');
    writeFileSync(path, gzipSync(MINUTE_CSV));
    const sink = new MemorySink();
    const progress: number[] = [];
    const summary = await importFlatFile({ path, sink, batchSize: 2, onProgress: (bytes, total) => progress.push(bytes / total) });
    expect(summary).toEqual({ layout: 'aggregates', rows: 4, records: 3, deadLetters: 1 });
    const first = sink.records[0]!.value as AggregateRecord;
    expect(sink.records[0]!.topic).toBe('minuteAggregates');
    expect(first).toMatchObject({
      symbol: 'A',
      interval: 'MINUTE',
      windowStartMs: 1744792500000,
      windowEndMs: 1744792560000,
      open: 200.29,
      close: 200.5,
      high: 200.63,
      low: 200.29,
      volume: 4930,
      transactions: 129,
      source: 'file',
    });
    expect((sink.records[2]!.value as AggregateRecord).volume).toBe(12.5);
    expect(sink.deadLetters[0]).toMatchObject({
      key: 'BAD',
      value: { source: 'flatfile', reason: 'bad row: column open is not a number: "abc"', details: `${path} row 3` },
    });
    expect(progress.at(-1)).toBe(1);
  });

  it('reads a plain CSV day file with an explicit interval', async () => {
    const path = join(directory, 'day.csv');
    writeFileSync(path, MINUTE_CSV.split('\n').slice(0, 2).join('\n'));
    const sink = new MemorySink();
    await importFlatFile({ path, sink, interval: 'DAY' });
    expect(sink.records[0]!.topic).toBe('dailyAggregates');
    expect((sink.records[0]!.value as AggregateRecord).windowEndMs - (sink.records[0]!.value as AggregateRecord).windowStartMs).toBe(
      86_400_000,
    );
  });

  it('fails clearly on a file of another layout or a corrupt gzip', async () => {
    const other = join(directory, 'other.csv');
    writeFileSync(other, 'a,b\n1,2\n');
    await expect(importFlatFile({ path: other, sink: new MemorySink() })).rejects.toThrow(/unknown flat-file layout/);
    const corrupt = join(directory, 'corrupt.csv.gz');
    writeFileSync(corrupt, Buffer.from('not gzip at all'));
    await expect(importFlatFile({ path: corrupt, sink: new MemorySink() })).rejects.toThrow(/incorrect header check/);
  });
});
