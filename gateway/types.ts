/** The streams a client can subscribe to, and the catalog topic behind each. */
export const STREAMS = { patterns: 'patterns', bars: 'minuteAggregates' } as const;
export type StreamName = keyof typeof STREAMS;
export const STREAM_NAMES = Object.keys(STREAMS) as StreamName[];

/** One decoded record of a topic, as the gateway holds it in its rings and sends it to clients. */
export interface LogEvent {
  readonly partition: number;
  readonly offset: number;
  /** Kafka record timestamp (ms). */
  readonly timestampMs: number;
  /** The record key (the symbol). */
  readonly key: string;
  /** The decoded Avro value, JSON-ready. */
  readonly data: Readonly<Record<string, unknown>>;
  /** `{"p":..,"o":..,"ts":..,"key":..,"data":..}` serialised once, so fan-out does not re-serialise per client. */
  readonly json: string;
}

/** A read of one partition: the records found from `fromOffset` and the position after them. */
export interface PartitionRead {
  readonly events: readonly LogEvent[];
  /** The next offset to read from (past control records and filtered copies too). */
  readonly nextOffset: number;
}

/** The bounds of one partition's log. */
export interface PartitionBounds {
  readonly logStart: number;
  readonly high: number;
}

export function eventJson(partition: number, offset: number, timestampMs: number, key: string, data: unknown): string {
  return `{"p":${partition},"o":${offset},"ts":${timestampMs},"key":${JSON.stringify(key)},"data":${JSON.stringify(data)}}`;
}

export function makeEvent(partition: number, offset: number, timestampMs: number, key: string, data: Readonly<Record<string, unknown>>): LogEvent {
  return { partition, offset, timestampMs, key, data, json: eventJson(partition, offset, timestampMs, key, data) };
}
