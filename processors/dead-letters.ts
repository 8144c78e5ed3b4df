import type { DeadLetterRecord } from '../platform/records.js';
import type { Encoder } from '../platform/index.js';
import type { OutputMessage } from './partition-core.js';

/** Where the processors' dead letters go, and how they are encoded. */
export interface DeadLetterSink {
  readonly topic: string;
  readonly encode: Encoder<DeadLetterRecord>;
}

/** The dead letter of an input record: keyed by its topic, on partition 0, with the raw payload and where it came from. */
export function deadLetterMessage(
  sink: DeadLetterSink,
  reason: string,
  details: string | null,
  raw: Buffer | null,
  inputTopic: string,
  partition: number,
  offset: number,
  nowMs: number,
): OutputMessage {
  return {
    topic: sink.topic,
    key: inputTopic,
    partition: 0,
    value: sink.encode({
      stage: 'processors',
      source: inputTopic,
      reason,
      details,
      rawPayload: raw ?? Buffer.alloc(0),
      sourceTopic: inputTopic,
      sourcePartition: partition,
      sourceOffset: offset,
      receivedAtMs: nowMs,
    }),
  };
}
