/**
 * The pure part of `tickflow replay`: where each partition starts and stops, which records pass the
 * filters, and how a record is written. No I/O here, so it is tested without a broker.
 */

export type Bound =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'partitionOffsets'; offsets: ReadonlyMap<number, bigint> }
  | { kind: 'time'; ms: number };

export class ReplayArgumentError extends Error {
  override name = 'ReplayArgumentError';
}

/** Parses `--from`/`--to`: `earliest`, `latest`, an offset, `p:o,p:o`, or an ISO-8601 time. */
export function parseBound(text: string, flag: string): Bound {
  const value = text.trim();
  if (value === 'earliest' || value === 'beginning') return { kind: 'earliest' };
  if (value === 'latest' || value === 'end') return { kind: 'latest' };
  if (/^\d+$/.test(value)) return { kind: 'offset', offset: BigInt(value) };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(value)) {
    const offsets = new Map<number, bigint>();
    for (const pair of value.split(',')) {
      const [partition, offset] = pair.split(':') as [string, string];
      offsets.set(Number(partition), BigInt(offset));
    }
    return { kind: 'partitionOffsets', offsets };
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new ReplayArgumentError(`${flag}: "${value}" is not a valid ISO-8601 time`);
    return { kind: 'time', ms };
  }
  throw new ReplayArgumentError(
    `${flag}: expected earliest, latest, an offset, partition:offset pairs or an ISO-8601 time, got "${value}"`,
  );
}

export interface PartitionWatermarks {
  readonly partition: number;
  /** First offset still in the log. */
  readonly low: bigint;
  /** Next offset to be written. */
  readonly high: bigint;
}

export interface PartitionRange {
  readonly partition: number;
  /** First offset to read. */
  readonly start: bigint;
  /** Stop before this offset. */
  readonly end: bigint;
}

/** Offsets for a time bound, as the broker resolved them (offset of the first record at or after the time; high when none). */
export type TimeOffsets = ReadonlyMap<number, bigint>;

function clamp(value: bigint, low: bigint, high: bigint): bigint {
  return value < low ? low : value > high ? high : value;
}

function resolve(bound: Bound, watermarks: PartitionWatermarks, times: TimeOffsets | undefined): bigint {
  switch (bound.kind) {
    case 'earliest':
      return watermarks.low;
    case 'latest':
      return watermarks.high;
    case 'offset':
      return clamp(bound.offset, watermarks.low, watermarks.high);
    case 'partitionOffsets': {
      const offset = bound.offsets.get(watermarks.partition);
      return offset === undefined ? watermarks.high : clamp(offset, watermarks.low, watermarks.high);
    }
    case 'time':
      return clamp(times?.get(watermarks.partition) ?? watermarks.high, watermarks.low, watermarks.high);
  }
}

/**
 * Per-partition ranges to read. `--to` defaults to the high watermark at the start, so a replay ends
 * even while producers keep writing. An offset `--to` is inclusive (the record at that offset is read).
 */
export function planReplay(
  watermarks: readonly PartitionWatermarks[],
  from: Bound,
  to: Bound | undefined,
  times: { from?: TimeOffsets; to?: TimeOffsets } = {},
): PartitionRange[] {
  return watermarks
    .map((partition) => {
      const start = resolve(from, partition, times.from);
      let end = to === undefined ? partition.high : resolve(to, partition, times.to);
      if (to && (to.kind === 'offset' || to.kind === 'partitionOffsets') && end < partition.high) end += 1n;
      return { partition: partition.partition, start, end: end < start ? start : end };
    })
    .sort((a, b) => a.partition - b.partition);
}

export function totalRecords(ranges: readonly PartitionRange[]): number {
  return ranges.reduce((sum, range) => sum + Number(range.end - range.start), 0);
}

export interface ReplayRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: string | null;
  readonly value: unknown;
}

/** A symbol filter over the key (our topics are keyed by symbol) or the value's symbol/ticker field. */
export function matchesSymbols(record: ReplayRecord, symbols: ReadonlySet<string> | undefined): boolean {
  if (!symbols || symbols.size === 0) return true;
  if (record.key !== null && symbols.has(record.key)) return true;
  const value = record.value as { symbol?: unknown; ticker?: unknown } | null;
  return (
    (typeof value?.symbol === 'string' && symbols.has(value.symbol)) || (typeof value?.ticker === 'string' && symbols.has(value.ticker))
  );
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (
    value &&
    typeof value === 'object' &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

export function toJsonLine(record: ReplayRecord): string {
  return JSON.stringify(record, jsonSafe);
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const text = typeof value === 'object' ? JSON.stringify(value, jsonSafe) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV: position columns, then the value's top-level fields in schema order (nested values as JSON). */
export class CsvWriter {
  private columns: string[] | undefined;

  header(record: ReplayRecord): string {
    const value = (record.value ?? {}) as Record<string, unknown>;
    this.columns = Object.keys(value);
    return ['topic', 'partition', 'offset', 'timestamp', 'key', ...this.columns].map(csvCell).join(',');
  }

  row(record: ReplayRecord): string {
    const value = (record.value ?? {}) as Record<string, unknown>;
    const columns = this.columns ?? Object.keys(value);
    return [record.topic, record.partition, record.offset, record.timestamp, record.key, ...columns.map((column) => value[column])]
      .map(csvCell)
      .join(',');
  }
}
