import {
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
  noopDeserializer,
  noopSerializer,
  stringDeserializer,
  stringSerializer,
} from '@platformatic/kafka';
import { Partitioners } from '../../platform/index.js';
import { createTestTopics } from '../../test/kafka.js';
import type { BenchSuite, Figure } from '../harness.js';

const BATCH = 1000;
const IN_FLIGHT = 4;

function trade(index: number) {
  return {
    symbol: `SYM${index % 500}`,
    exchange: 4,
    tradeId: String(1_000_000 + index),
    tape: 3,
    price: 100 + (index % 1000) / 100,
    size: 100 + (index % 7),
    fractionalSize: null,
    conditions: [12],
    sipTimestampMs: 1_764_000_000_000 + index,
    sequence: index,
    trfId: null,
    trfTimestampMs: null,
    source: 'bench',
    ingestedAtMs: 1_764_000_000_000 + index,
  };
}

/** Runs `send` over every batch with a fixed number of requests in flight. */
async function pipelined(batches: number, send: (batch: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < batches) await send(next++);
    }),
  );
}

/**
 * kafkajs (our client) against @platformatic/kafka, producing and consuming the same Avro trades
 * (encoded by our codec, in the timed loop, for both) on the same broker, acks=all, no compression.
 */
const suite: BenchSuite = {
  name: 'kafka-clients',
  description: 'kafkajs vs @platformatic/kafka: produce and consume the same Avro events on the same broker',
  async run({ scale }) {
    const total = Math.max(BATCH, Math.round((200_000 * scale) / BATCH) * BATCH);
    const env = await createTestTopics('bench-clients', ['trades']);
    const figures: Figure[] = [];
    try {
      const encode = await env.codec.encoderFor<ReturnType<typeof trade>>('trades');
      const topicFor = (client: string) => `${env.codec.topic('trades')}`.replace('market.trades', `market.trades.${client}`);
      const admin = env.kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: ['kafkajs', 'platformatic'].map((client) => ({ topic: topicFor(client), numPartitions: 6 })),
        waitForLeaders: true,
      });
      await admin.disconnect();

      // kafkajs produce
      const kafkajsTopic = topicFor('kafkajs');
      const producer = env.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await producer.connect();
      let started = performance.now();
      await pipelined(total / BATCH, (batch) =>
        producer.send({
          topic: kafkajsTopic,
          acks: -1,
          messages: Array.from({ length: BATCH }, (_, i) => {
            const value = trade(batch * BATCH + i);
            return { key: value.symbol, value: encode(value) };
          }),
        }),
      );
      figures.push({
        name: 'kafkajs produce',
        value: (total * 1000) / (performance.now() - started),
        unit: 'events/s',
        note: `${total} Avro trades, batches of ${BATCH}, ${IN_FLIGHT} in flight`,
      });
      await producer.disconnect();

      // @platformatic/kafka produce
      const platformaticTopic = topicFor('platformatic');
      const fastProducer = new PlatformaticProducer({
        clientId: 'bench-platformatic',
        bootstrapBrokers: env.brokers,
        acks: -1,
        serializers: { key: stringSerializer, value: noopSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
      });
      started = performance.now();
      await pipelined(total / BATCH, (batch) =>
        fastProducer.send({
          messages: Array.from({ length: BATCH }, (_, i) => {
            const value = trade(batch * BATCH + i);
            return { topic: platformaticTopic, key: value.symbol, value: encode(value) };
          }),
        }),
      );
      figures.push({
        name: '@platformatic/kafka produce',
        value: (total * 1000) / (performance.now() - started),
        unit: 'events/s',
        baseline: true,
      });
      await fastProducer.close();

      // kafkajs consume (each value decoded)
      const consumer = env.kafka.consumer({ groupId: `${env.prefix}bench-kafkajs`, maxBytes: 50 * 1024 * 1024 });
      await consumer.connect();
      await consumer.subscribe({ topic: kafkajsTopic, fromBeginning: true });
      let seen = 0;
      await env.codec.decode(encode(trade(0)));
      started = performance.now();
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) env.codec.decodeCached(message.value!);
            seen += batch.messages.length;
            if (seen >= total) resolve();
          },
        });
      });
      figures.push({ name: 'kafkajs consume+decode', value: (total * 1000) / (performance.now() - started), unit: 'events/s' });
      await consumer.disconnect();

      // @platformatic/kafka consume (each value decoded)
      const fastConsumer = new PlatformaticConsumer({
        clientId: 'bench-platformatic-consumer',
        groupId: `${env.prefix}bench-platformatic`,
        bootstrapBrokers: env.brokers,
        deserializers: { key: stringDeserializer, value: noopDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
        maxBytes: 50 * 1024 * 1024,
      });
      started = performance.now();
      const stream = await fastConsumer.consume({ topics: [platformaticTopic], mode: 'earliest', autocommit: false });
      seen = 0;
      for await (const message of stream) {
        env.codec.decodeCached(message.value as Buffer);
        seen += 1;
        if (seen >= total) break;
      }
      figures.push({
        name: '@platformatic/kafka consume+decode',
        value: (total * 1000) / (performance.now() - started),
        unit: 'events/s',
        baseline: true,
      });
      await stream.close();
      await fastConsumer.close(true);
    } finally {
      await env.cleanup();
    }
    return figures;
  },
};

export default suite;
