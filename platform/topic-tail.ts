import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from './logger.js';

export interface TopicTail {
  /** Resolves once every record committed to the topic when it was called has been handed to `onMessage`. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads a topic from the beginning and keeps following it (read_committed, no offsets committed): the
 * building block of tables kept from compacted topics (latest value per key). The consumer group id is
 * unique per call, so every tail sees the whole topic.
 */
export async function tailTopic(options: {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupPrefix: string;
  readonly logger: Logger;
  readonly onMessage: (message: KafkaMessage, partition: number) => Promise<void> | void;
}): Promise<TopicTail> {
  const { kafka, topic, logger } = options;
  const positions = new Map<number, number>();
  const waiters = new Set<() => void>();
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix}.tail.${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    // Short long-polls: a tail mostly idles, and stop() waits for the fetch in flight.
    maxWaitTimeInMs: 1_000,
  });
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
    const { partition, lastOffset } = event.payload as { partition: number; lastOffset: string };
    const next = Number(lastOffset) + 1;
    if (next > (positions.get(partition) ?? -1)) positions.set(partition, next);
    notify();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const message of batch.messages) {
        await options.onMessage(message, batch.partition);
        resolveOffset(message.offset);
      }
    },
  });
  const admin = kafka.admin();
  await admin.connect();
  return {
    caughtUp: async () => {
      const offsets = await admin.fetchTopicOffsets(topic);
      const targets = offsets
        .filter((entry) => Number(entry.high) > Number(entry.low))
        .map((entry) => ({ partition: entry.partition, high: Number(entry.high) }));
      const done = () => targets.every((target) => (positions.get(target.partition) ?? 0) >= target.high);
      if (done()) return;
      await new Promise<void>((resolve) => {
        const check = () => {
          if (!done()) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
      logger.debug({ topic }, 'tail caught up');
    },
    stop: async () => {
      for (const waiter of [...waiters]) waiters.delete(waiter);
      await consumer.disconnect();
      await admin.disconnect();
    },
  };
}
