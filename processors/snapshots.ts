import type { Encoder } from '../platform/index.js';
import { ENGINE_VERSION } from './engine.js';
import type { OutputMessage } from './partition-core.js';
import { splitSnapshot } from './snapshot-chunks.js';

/** A (chunk of a) partition's state as written to the snapshots topic. */
export interface SnapshotValue {
  group: string;
  inputTopic: string;
  partition: number;
  nextOffset: number;
  engineVersion: number;
  state: Buffer;
  createdAtMs: number;
}

/** The key of a partition's snapshots (before the chunk suffix). */
export function snapshotKey(groupId: string, inputTopic: string, partition: number): string {
  return `${groupId}/${inputTopic}/${partition}`;
}

/**
 * Whether a partition may start from `snapshot` rather than the log start: same engine version, not past the
 * committed offset (its outputs would be missing) and not below the log start (records before it are gone).
 */
export function usableSnapshot(snapshot: SnapshotValue | undefined, resumeAt: number, logStart: number): snapshot is SnapshotValue {
  return (
    snapshot !== undefined &&
    snapshot.engineVersion === ENGINE_VERSION &&
    snapshot.nextOffset <= resumeAt &&
    snapshot.nextOffset >= logStart
  );
}

export interface SnapshotWriter {
  readonly groupId: string;
  readonly topic: string;
  readonly maxBytes: number;
  readonly encode: Encoder<SnapshotValue>;
}

/** The records of one snapshot: large states go out as several records (chunks), each in its own produce request. */
export function snapshotMessages(
  writer: SnapshotWriter,
  inputTopic: string,
  partition: number,
  nextOffset: number,
  state: Buffer,
  nowMs: number,
): OutputMessage[] {
  return splitSnapshot(snapshotKey(writer.groupId, inputTopic, partition), state, writer.maxBytes).map((chunk) => ({
    topic: writer.topic,
    key: chunk.key,
    partition: 0,
    value: writer.encode({
      group: writer.groupId,
      inputTopic,
      partition,
      nextOffset,
      engineVersion: ENGINE_VERSION,
      state: chunk.state,
      createdAtMs: nowMs,
    }),
  }));
}
