import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners, type Consumer, type Kafka } from './index.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';

/**
 * Nobody had run kafkajs 2.2.4 transactions against a Kafka 4.x broker (KIP-890 / transaction version 2):
 * this proves the consume-transform-produce cycle the processors rely on.
 */
describe('kafkajs transactions against the real Kafka 4 broker', () => {
  let env: TestKafka;
  let input: string;
  let output: string;

  beforeAll(async () => {
    env = await createTestTopics('txn', ['minuteAggregates', 'patterns']);
    input = env.codec.topic('minuteAggregates');
    output = env.codec.topic('patterns');
  });
  afterAll(async () => {
    await env.cleanup();
  });

  async function readCommitted(kafka: Kafka, topic: string, expected: number, groupId: string): Promise<string[]> {
    const consumer: Consumer = kafka.consumer({ groupId, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length >= expected) resolve();
        },
      });
    });
    await consumer.disconnect();
    return seen;
  }

  async function endOffsets(topic: string): Promise<number> {
    const admin = env.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    return offsets.reduce((sum, partition) => sum + Number(partition.high), 0);
  }

  it('commits output and input offsets together, and an aborted transaction leaves nothing visible', async () => {
    const plain = env.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await plain.connect();
    await plain.send({ topic: input, messages: ['a', 'b', 'c', 'd'].map((value) => ({ key: 'K', value })) });
    await plain.disconnect();

    const groupId = `${env.prefix}txn-group`;
    const transactional = env.kafka.producer({
      transactionalId: `${env.prefix}txn-producer`,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await transactional.connect();

    // First pass: transform every input, then abort: nothing may become visible, no offset committed.
    const consumer = env.kafka.consumer({ groupId, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    let phase: 'abort' | 'commit' = 'abort';
    let processed = 0;
    const batchDone = () =>
      new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch, resolveOffset }) => {
            const transaction = await transactional.transaction();
            await transaction.send({
              topic: output,
              messages: batch.messages.map((message) => ({ key: 'K', value: `${phase}:${message.value!.toString()}` })),
            });
            const last = batch.messages[batch.messages.length - 1]!;
            await transaction.sendOffsets({
              consumerGroupId: groupId,
              topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }] }],
            });
            if (phase === 'abort') await transaction.abort();
            else await transaction.commit();
            for (const message of batch.messages) resolveOffset(message.offset);
            processed += batch.messages.length;
            if (processed >= 4) resolve();
          },
        });
      });
    await batchDone();
    await consumer.disconnect();

    const committedAfterAbort = env.kafka.admin();
    await committedAfterAbort.connect();
    const offsetsAfterAbort = await committedAfterAbort.fetchOffsets({ groupId, topics: [input] });
    await committedAfterAbort.disconnect();
    expect(offsetsAfterAbort[0]!.partitions.every((partition) => partition.offset === '-1')).toBe(true);

    // Second pass: the same group starts again from the beginning (nothing committed) and commits.
    phase = 'commit';
    processed = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: input, fromBeginning: true });
    await batchDone();
    await consumer.disconnect();
    await transactional.disconnect();

    const visible = await readCommitted(env.kafka, output, 4, `${env.prefix}reader`);
    expect(visible.sort()).toEqual(['commit:a', 'commit:b', 'commit:c', 'commit:d']);
    // The aborted records (and transaction markers) occupy offsets, but read_committed never shows them.
    expect(await endOffsets(output)).toBeGreaterThan(4);

    const admin = env.kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId, topics: [input] });
    await admin.disconnect();
    const total = committed[0]!.partitions.reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
    expect(total).toBe(4);
  });

  it('a read_uncommitted consumer would see aborted data: the isolation level is what protects readers', async () => {
    const topic = output;
    const consumer = env.kafka.consumer({ groupId: `${env.prefix}dirty-reader`, readUncommitted: true });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
          if (seen.length >= 8) resolve();
        },
      });
    });
    await consumer.disconnect();
    expect(seen.filter((value) => value.startsWith('abort:')).sort()).toEqual(['abort:a', 'abort:b', 'abort:c', 'abort:d']);
  });
});
