import type { Transaction } from 'kafkajs';
import type { OutputMessage } from './partition-core.js';

/**
 * The transaction coordinator answers CONCURRENT_TRANSACTIONS (51) while the markers of the previous
 * transaction (or of a fenced owner's) are still being written; the Java client retries it, and kafkajs
 * does so for produce but not for AddOffsetsToTxn, so the shell retries it with a short backoff.
 */
export async function retryConcurrentTransactions<T>(operation: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== 51 || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, 20 * attempt)));
    }
  }
}

/** Messages grouped by topic, in order, as one `sendBatch` takes them. */
export function topicMessagesOf(
  out: readonly OutputMessage[],
): { topic: string; messages: { key: string; value: Buffer; partition: number }[] }[] {
  const byTopic = new Map<string, { key: string; value: Buffer; partition: number }[]>();
  for (const message of out) {
    let list = byTopic.get(message.topic);
    if (!list) byTopic.set(message.topic, (list = []));
    list.push({ key: message.key, value: message.value, partition: message.partition });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The input position a transaction commits: the group's offset of one input partition. */
export interface InputPosition {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
}

/**
 * Completes one consume-transform-produce transaction: `out`, the snapshot chunks (one produce request each) and
 * the input offset commit together, or the transaction is aborted and the error rethrown.
 */
export async function commitTransaction(
  transaction: Transaction,
  position: InputPosition,
  out: readonly OutputMessage[],
  snapshotChunks: readonly OutputMessage[],
): Promise<void> {
  try {
    if (out.length > 0) await transaction.sendBatch({ topicMessages: topicMessagesOf(out) });
    for (const chunk of snapshotChunks) {
      await transaction.send({ topic: chunk.topic, messages: [{ key: chunk.key, value: chunk.value, partition: chunk.partition }] });
    }
    await retryConcurrentTransactions(() =>
      transaction.sendOffsets({
        consumerGroupId: position.groupId,
        topics: [{ topic: position.topic, partitions: [{ partition: position.partition, offset: String(position.nextOffset) }] }],
      }),
    );
    await transaction.commit();
  } catch (error) {
    await transaction.abort().catch(() => {});
    throw error;
  }
}
