import { createReadStream, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { deadLetter, type BarInterval, type OutRecord, type TradeRecord } from './records.js';
import { barToRecord } from './rest-map.js';
import type { RecordSink } from './sink.js';
import { toMillis } from './wire.js';

/** Massive flat-file layouts (S3 `us_stocks_sip/{minute_aggs_v1,day_aggs_v1,trades_v1}/YYYY/MM/YYYY-MM-DD.csv.gz`). */
export type FlatLayout = 'aggregates' | 'trades';

const AGGREGATE_COLUMNS = ['ticker', 'volume', 'open', 'close', 'high', 'low', 'window_start', 'transactions'];
const TRADE_COLUMNS = [
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
];

/** The layout a header names, or an error listing what is missing. */
export function detectLayout(header: readonly string[]): FlatLayout {
  const has = (columns: readonly string[]) => columns.every((column) => header.includes(column));
  if (has(AGGREGATE_COLUMNS)) return 'aggregates';
  if (has(['ticker', 'price', 'size', 'sip_timestamp', 'sequence_number', 'exchange', 'id'])) return 'trades';
  throw new Error(
    `unknown flat-file layout; expected columns ${AGGREGATE_COLUMNS.join(',')} or ${TRADE_COLUMNS.join(',')}, got ${header.join(',')}`,
  );
}

/** MINUTE or DAY from a Massive flat-file path (minute_aggs_v1 / day_aggs_v1), else undefined. */
export function intervalFromPath(path: string): BarInterval | undefined {
  if (/minute_aggs/.test(path)) return 'MINUTE';
  if (/day_aggs/.test(path)) return 'DAY';
  return undefined;
}

function number(row: Record<string, string>, column: string): number {
  const text = row[column];
  const value = text === undefined || text === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw new TypeError(`column ${column} is not a number: ${JSON.stringify(text)}`);
  return value;
}

function optionalNumber(row: Record<string, string>, column: string): number | null {
  return row[column] === undefined || row[column] === '' ? null : number(row, column);
}

/** One CSV row to a record; throws a TypeError naming the bad column. Pure. */
export function flatRowToRecord(layout: FlatLayout, row: Record<string, string>, interval: BarInterval, nowMs: number): OutRecord {
  const symbol = row.ticker;
  if (!symbol) throw new TypeError('column ticker is empty');
  if (layout === 'aggregates') {
    const value = barToRecord(
      symbol,
      interval,
      {
        o: number(row, 'open'),
        h: number(row, 'high'),
        l: number(row, 'low'),
        c: number(row, 'close'),
        v: number(row, 'volume'),
        n: number(row, 'transactions'),
        t: number(row, 'window_start'),
      },
      'file',
      nowMs,
    );
    return { topic: interval === 'DAY' ? 'dailyAggregates' : 'minuteAggregates', key: symbol, value, eventTimeMs: value.windowEndMs };
  }
  const size = number(row, 'size');
  const conditions = (row.conditions ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const code = Number(part);
      if (!Number.isInteger(code)) throw new TypeError(`column conditions has a non-integer: ${JSON.stringify(part)}`);
      return code;
    });
  const trfTimestamp = optionalNumber(row, 'trf_timestamp');
  const value: TradeRecord = {
    symbol,
    exchange: number(row, 'exchange'),
    tradeId: row.id ?? '',
    tape: optionalNumber(row, 'tape') ?? 0,
    price: number(row, 'price'),
    size: Math.floor(size),
    fractionalSize: Number.isInteger(size) ? null : String(row.size),
    conditions,
    sipTimestampMs: toMillis(number(row, 'sip_timestamp')),
    sequence: number(row, 'sequence_number'),
    trfId: optionalNumber(row, 'trf_id'),
    trfTimestampMs: trfTimestamp === null ? null : toMillis(trfTimestamp),
    source: 'file',
    ingestedAtMs: nowMs,
  };
  return { topic: 'trades', key: symbol, value, eventTimeMs: value.sipTimestampMs };
}

export interface FlatFileImportOptions {
  readonly path: string;
  readonly sink: RecordSink;
  /** Bar interval of an aggregates file; default from the path (minute_aggs / day_aggs). */
  readonly interval?: BarInterval;
  readonly batchSize?: number;
  /** Called with compressed bytes read so far and the file size (drives the progress bar). */
  readonly onProgress?: (bytesRead: number, totalBytes: number, rows: number) => void;
  readonly now?: () => number;
}

export interface FlatFileSummary {
  readonly layout: FlatLayout;
  readonly rows: number;
  readonly records: number;
  readonly deadLetters: number;
}

/**
 * Streams a Massive CSV(.gz) flat file into Kafka: file -> gunzip -> csv-parse -> records, in
 * batches, awaiting Kafka between batches so memory stays flat whatever the file size. A bad row is
 * dead-lettered (raw row kept) and the import goes on.
 */
export async function importFlatFile(options: FlatFileImportOptions): Promise<FlatFileSummary> {
  const now = options.now ?? Date.now;
  const totalBytes = statSync(options.path).size;
  const file = createReadStream(options.path);
  let bytesRead = 0;
  file.on('data', (chunk: Buffer | string) => {
    bytesRead += chunk.length;
  });
  const parser = parse({ columns: true, skip_empty_lines: true, trim: true, relax_column_count: true });
  const input = options.path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  input.on('error', (error: Error) => parser.destroy(error));
  input.pipe(parser);

  const interval = options.interval ?? intervalFromPath(options.path) ?? 'MINUTE';
  const batchSize = options.batchSize ?? 5000;
  let layout: FlatLayout | undefined;
  let rows = 0;
  let records = 0;
  let deadLetters = 0;
  let batch: OutRecord[] = [];
  const flushBatch = async () => {
    options.sink.produce(batch);
    records += batch.length;
    batch = [];
    await options.sink.flush();
    options.onProgress?.(bytesRead, totalBytes, rows);
  };
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    layout ??= detectLayout(Object.keys(row));
    rows += 1;
    try {
      batch.push(flatRowToRecord(layout, row, interval, now()));
    } catch (error) {
      deadLetters += 1;
      options.sink.deadLetter([
        deadLetter(
          'flatfile',
          `bad row: ${(error as Error).message}`,
          JSON.stringify(row),
          now(),
          row.ticker || undefined,
          `${options.path} row ${rows}`,
        ),
      ]);
    }
    if (batch.length >= batchSize) await flushBatch();
  }
  await flushBatch();
  return { layout: layout ?? 'aggregates', rows, records, deadLetters };
}
