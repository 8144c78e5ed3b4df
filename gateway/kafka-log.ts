import { Consumer } from '@platformatic/kafka';
import { BROADCAST_COPY_HEADER, isRegistryUnreachable, platformaticSecurityOptions, type AvroCodec } from '../platform/index.js';
import { topicEpoch } from './cursor.js';
import { decodeEvent, placeWire, type DecodedEvent, type PartitionBounds, type PartitionRead } from './types.js';

/** The identity and shape of a topic. */
export interface TopicInfo {
  readonly topic: string;
  readonly topicId: string;
  readonly epoch: string;
  readonly partitions: readonly number[];
}

export interface ReadOptions {
  readonly maxWaitMs: number;
  readonly maxBytesPerPartition: number;
  /**
   * Called once the broker has answered, with the offset after the last record fetched per partition (only
   * partitions that moved), before the records are decoded: a tail can send its next fetch from there at once,
   * so the broker holds a fetch while this one is decoded and dispatched.
   */
  readonly onFetched?: (next: ReadonlyMap<number, number>) => void;
}

/** Thrown when a read asks for an offset the log no longer (or not yet) has. */
export class OffsetOutOfRangeError extends Error {
  override name = 'OffsetOutOfRangeError';
  constructor(
    readonly partition: number,
    readonly offset: number,
    readonly bounds: PartitionBounds,
  ) {
    super(`offset ${offset} of partition ${partition} is outside the log [${bounds.logStart}, ${bounds.high})`);
  }
}

/** What the gateway needs from Kafka: topic identity, log bounds, time look-ups and reads from any offset. */
export interface LogSource {
  describe(topic: string): Promise<TopicInfo>;
  bounds(topic: string): Promise<Map<number, PartitionBounds>>;
  /** Per partition, the first offset whose record time is >= `timestampMs` (the high watermark when none). */
  offsetsForTime(topic: string, timestampMs: number): Promise<Map<number, number>>;
  /** Reads several partitions of a topic from the given offsets (a long poll of up to `maxWaitMs`). */
  read(info: TopicInfo, from: ReadonlyMap<number, number>, options: ReadOptions): Promise<Map<number, PartitionRead & PartitionBounds>>;
  close(): Promise<void>;
}

/** Turns a raw Kafka record into an event; `undefined` skips it (e.g. a broadcast copy). */
export type RecordDecoder = (record: {
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly [Buffer | null, Buffer | null][];
}) => Promise<DecodedEvent | undefined> | DecodedEvent | undefined;

const CONTROL_BATCH = 0x20;

const BROADCAST_COPY_HEADER_BYTES = Buffer.from(BROADCAST_COPY_HEADER, 'utf8');

/** Whether a record carries the broadcast-copy header: compared as bytes, so no string is made per header. */
function isBroadcastCopyRecord(headers: readonly [Buffer | null, Buffer | null][]): boolean {
  for (let index = 0; index < headers.length; index += 1) {
    const name = headers[index]![0];
    if (name !== null && name.equals(BROADCAST_COPY_HEADER_BYTES)) return true;
  }
  return false;
}

/**
 * Decodes Avro (Confluent wire format) values with the platform codec; skips broadcast copies, and undecodable
 * values (the processors dead-letter them and the projector keeps them as rejects): thrown, one would fail every
 * tail read at its offset and stop the stream. Only an unreachable registry fails the read (retried).
 */
export function avroDecoder(codec: AvroCodec): RecordDecoder {
  const undecodable = (error: unknown): undefined => {
    if (isRegistryUnreachable(error)) throw error;
    return undefined;
  };
  // No closure per record: this runs for every record read (20k/s in the bench), and each one is an allocation.
  return (record) => {
    if (record.value === null || isBroadcastCopyRecord(record.headers)) return undefined;
    const key = record.key?.toString('utf8') ?? '';
    let cached: Record<string, unknown> | undefined;
    try {
      cached = codec.decodeCached<Record<string, unknown>>(record.value);
    } catch (error) {
      return undecodable(error);
    }
    if (cached !== undefined) return decodeEvent(record.partition, record.offset, record.timestampMs, key, cached);
    return codec
      .decode<Record<string, unknown>>(record.value)
      .then((data) => decodeEvent(record.partition, record.offset, record.timestampMs, key, data), undecodable);
  };
}

function errorNames(error: unknown): string[] {
  const names: string[] = [];
  const visit = (value: unknown) => {
    if (typeof value !== 'object' || value === null) return;
    const record = value as { apiId?: unknown; errors?: unknown };
    if (typeof record.apiId === 'string') names.push(record.apiId);
    if (Array.isArray(record.errors)) record.errors.forEach(visit);
  };
  visit(error);
  return names;
}

/**
 * A LogSource over @platformatic/kafka's low-level fetch and list-offsets calls: no consumer group, no
 * committed offsets, so any number of gateway instances read the same topics independently.
 */
export class KafkaLogSource implements LogSource {
  private readonly client: Consumer;

  constructor(
    brokers: readonly string[],
    clientId: string,
    private readonly decode: RecordDecoder,
  ) {
    // The group id is never joined: fetch and list-offsets need none.
    this.client = new Consumer({
      clientId,
      groupId: `${clientId}-unjoined`,
      bootstrapBrokers: [...brokers],
      retries: 3,
      retryDelay: 200,
      metadataMaxAge: 5_000,
      // TLS and SASL from the env (KAFKA_SECURITY_PROTOCOL, KAFKA_TLS_*, KAFKA_SASL_*), as every other client.
      ...platformaticSecurityOptions(),
    });
  }

  async describe(topic: string): Promise<TopicInfo> {
    this.client.clearMetadata();
    const metadata = await this.client.metadata({ topics: [topic], forceUpdate: true });
    const found = metadata.topics.get(topic);
    if (!found) throw new Error(`topic ${topic} not found`);
    return { topic, topicId: found.id, epoch: topicEpoch(topic, found.id), partitions: found.partitions.map((_, index) => index) };
  }

  async bounds(topic: string): Promise<Map<number, PartitionBounds>> {
    const [earliest, latest] = await Promise.all([
      this.client.listOffsets({ topics: [topic], timestamp: -2n }),
      this.client.listOffsets({ topics: [topic], timestamp: -1n }),
    ]);
    const starts = earliest.get(topic) ?? [];
    const highs = latest.get(topic) ?? [];
    return new Map(starts.map((start, partition) => [partition, { logStart: Number(start), high: Number(highs[partition] ?? start) }]));
  }

  async offsetsForTime(topic: string, timestampMs: number): Promise<Map<number, number>> {
    const [found, bounds] = await Promise.all([
      this.client.listOffsetsWithTimestamps({ topics: [topic], timestamp: BigInt(timestampMs) }),
      this.bounds(topic),
    ]);
    const result = new Map<number, number>();
    for (const [partition, { high }] of bounds) {
      const entry = found.get(topic)?.get(partition);
      result.set(partition, entry === undefined || entry.offset < 0n ? high : Number(entry.offset));
    }
    return result;
  }

  async read(
    info: TopicInfo,
    from: ReadonlyMap<number, number>,
    options: ReadOptions,
  ): Promise<Map<number, PartitionRead & PartitionBounds>> {
    const metadata = await this.client.metadata({ topics: [info.topic] });
    const topicMetadata = metadata.topics.get(info.topic);
    if (!topicMetadata || topicMetadata.id !== info.topicId) throw new Error(`topic ${info.topic} changed identity`);
    const byLeader = new Map<number, number[]>();
    for (const partition of from.keys()) {
      const leader = topicMetadata.partitions[partition]?.leader ?? -1;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
    }
    const responses = await Promise.all(
      [...byLeader].map(([leader, partitions]) => this.fetchFrom(info, leader, partitions, from, options)),
    );
    if (options.onFetched) {
      const next = new Map<number, number>();
      for (const response of responses) {
        for (const topic of response.responses) {
          for (const partitionResponse of topic.partitions) {
            const batches = partitionResponse.records ?? [];
            const last = batches[batches.length - 1];
            if (last) next.set(partitionResponse.partitionIndex, Number(last.firstOffset) + last.lastOffsetDelta + 1);
          }
        }
      }
      if (next.size > 0) {
        options.onFetched(next);
        // Let the next fetch reach the socket before this one's records are decoded.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const result = new Map<number, PartitionRead & PartitionBounds>();
    for (const response of responses) {
      for (const topic of response.responses) {
        for (const partitionResponse of topic.partitions) {
          const partition = partitionResponse.partitionIndex;
          const fromOffset = from.get(partition)!;
          const events: DecodedEvent[] = [];
          let nextOffset = fromOffset;
          for (const batch of partitionResponse.records ?? []) {
            const firstOffset = Number(batch.firstOffset);
            const firstTimestamp = Number(batch.firstTimestamp);
            const batchEnd = firstOffset + batch.lastOffsetDelta + 1;
            if ((batch.attributes & CONTROL_BATCH) === 0) {
              for (const record of batch.records) {
                const offset = firstOffset + record.offsetDelta;
                if (offset < fromOffset) continue; // a batch starts before the asked offset
                const decoded = this.decode({
                  partition,
                  offset,
                  timestampMs: firstTimestamp + Number(record.timestampDelta),
                  key: record.key,
                  value: record.value,
                  headers: record.headers,
                });
                // Awaiting only real promises (a schema not yet fetched): one microtask per record adds up at 20k/s.
                const event = decoded instanceof Promise ? await decoded : decoded;
                if (event) events.push(event);
              }
            }
            nextOffset = Math.max(nextOffset, batchEnd);
          }
          result.set(partition, {
            events: placeWire(events),
            nextOffset,
            logStart: Number(partitionResponse.logStartOffset),
            high: Number(partitionResponse.highWatermark),
          });
        }
      }
    }
    return result;
  }

  private async fetchFrom(
    info: TopicInfo,
    leader: number,
    partitions: readonly number[],
    from: ReadonlyMap<number, number>,
    options: ReadOptions,
  ) {
    try {
      return await this.client.fetch({
        node: leader,
        maxWaitTime: options.maxWaitMs,
        minBytes: 1,
        maxBytes: options.maxBytesPerPartition * partitions.length,
        topics: [
          {
            topicId: info.topicId,
            partitions: partitions.map((partition) => ({
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(from.get(partition)!),
              lastFetchedEpoch: -1,
              partitionMaxBytes: options.maxBytesPerPartition,
            })),
          },
        ],
      });
    } catch (error) {
      if (errorNames(error).includes('OFFSET_OUT_OF_RANGE')) {
        const bounds = await this.bounds(info.topic);
        for (const partition of partitions) {
          const partitionBounds = bounds.get(partition)!;
          const offset = from.get(partition)!;
          if (offset < partitionBounds.logStart || offset > partitionBounds.high)
            throw new OffsetOutOfRangeError(partition, offset, partitionBounds);
        }
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.client.close(true);
  }
}
