import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

/**
 * The last (up to) `perPartition` committed records of each partition of a topic, read with a throwaway
 * consumer (no offsets committed). Gives up after `timeoutMs` with what it has (a partition ending in
 * transaction markers only may never deliver its last offset).
 */
export async function lastRecords(
  kafka: Kafka,
  topic: string,
  options: { readonly perPartition?: number; readonly timeoutMs?: number; readonly groupPrefix?: string } = {},
): Promise<KafkaMessage[]> {
  const perPartition = options.perPartition ?? 1;
  const admin = kafka.admin();
  await admin.connect();
  let targets: { partition: number; from: number; high: number }[];
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    targets = (await admin.fetchTopicOffsets(topic))
      .map((entry) => ({
        partition: entry.partition,
        high: Number(entry.high),
        from: Math.max(Number(entry.low), Number(entry.high) - perPartition),
      }))
      .filter((target) => target.high > target.from);
  } finally {
    await admin.disconnect();
  }
  if (targets.length === 0) return [];
  const messages: KafkaMessage[] = [];
  const pending = new Set(targets.map((target) => target.partition));
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix ?? 'tickflow'}.peek.${randomBytes(6).toString('hex')}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
  });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const target = targets.find((entry) => entry.partition === batch.partition);
        if (!target || !pending.has(batch.partition)) return;
        for (const message of batch.messages)
          if (Number(message.offset) >= target.from && Number(message.offset) < target.high) messages.push(message);
        if (Number(batch.lastOffset()) + 1 >= target.high) pending.delete(batch.partition);
        if (pending.size === 0) finish();
      },
    });
    for (const target of targets) consumer.seek({ topic, partition: target.partition, offset: String(target.from) });
    const timer = setTimeout(finish, options.timeoutMs ?? 15_000);
    await finished;
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
