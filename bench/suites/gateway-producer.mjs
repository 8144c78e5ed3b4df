// Producer side of the gateway benchmark, run as a child process: in production the gateway does not share its
// process with the producers (ingest, processors), so the bench's kafkajs producer (its encoding, its garbage) must
// not share the gateway's event loop either. Driven over the IPC channel by bench/suites/gateway.ts.
import { connect } from 'node:net';
import { Producer, noopSerializer, stringSerializer } from '@platformatic/kafka';
import { Kafka, Partitioners, logLevel } from 'kafkajs';

/** `send(messages, acks)`: one produce request (messages carry key, value Buffer and timestamp in ms). */
let producer;
let topic;
let values = [];
let cursor = 0;

function nextMessages(n) {
  const messages = [];
  for (let index = 0; index < n; index += 1) messages.push(values[(cursor += 1) % values.length]);
  return messages;
}

/**
 * kafkajs, as the pipeline's stages produce, with the socket the platform's Kafka client uses: kafkajs's own
 * socket factory leaves Nagle's algorithm on, so a produce request written while an earlier one is unanswered
 * would wait for that answer. (A .mjs cannot import the platform's TypeScript, hence the three lines here.)
 */
async function kafkajsProducer(brokers) {
  const socketFactory = ({ host, port, onConnect }) =>
    connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, onConnect);
  const kafka = new Kafka({ clientId: 'bench-gateway-producer', brokers, logLevel: logLevel.NOTHING, socketFactory });
  const client = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await client.connect();
  return {
    send: (messages, acks) =>
      client.send({ topic, acks, messages: messages.map((record) => ({ ...record, timestamp: String(record.timestamp) })) }),
    close: () => client.disconnect(),
  };
}

/**
 * @platformatic/kafka: about half kafkajs's CPU per produced record (bench kafka-clients), so the load
 * generator takes less of the two cores the gateway under test runs on.
 */
async function platformaticProducer(brokers) {
  const client = new Producer({
    clientId: 'bench-gateway-producer',
    bootstrapBrokers: brokers,
    autocreateTopics: false,
    serializers: { key: stringSerializer, value: noopSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  });
  return {
    send: (messages, acks) =>
      client.send({
        acks,
        messages: messages.map((record) => ({ topic, key: record.key, value: record.value, timestamp: BigInt(record.timestamp) })),
      }),
    close: () => client.close(),
  };
}

process.on('message', async (message) => {
  if (message.cmd === 'connect') {
    topic = message.topic;
    values = message.values.map(({ key, value }) => ({ key, value: Buffer.from(value, 'base64') }));
    producer = message.client === 'platformatic' ? await platformaticProducer(message.brokers) : await kafkajsProducer(message.brokers);
    process.send({ cmd: 'connected' });
  } else if (message.cmd === 'burst') {
    // The first `n` values, in one send (the fan-out phase).
    await producer.send(
      values.slice(0, message.n).map((record) => ({ ...record, timestamp: Date.now() })),
      1,
    );
    process.send({ cmd: 'sent', sent: message.n });
  } else if (message.cmd === 'rate') {
    // `rate` records/s for `seconds`, open loop: every `tickMs`, whatever is due is handed to the producer
    // (acks=1 unless told, e.g. -1 = all for the replication bench; no linger) without waiting for earlier sends to
    // be acknowledged, so a slow acknowledgement holds
    // no record back. Each record's timestamp (its Kafka CreateTime, where the bench's latency starts) is set
    // here, when the record is handed to the producer, not by kafkajs when it later encodes the request.
    // Acknowledgements are timed only for records handed over at or after `measureFrom` (the end of the warm-up).
    const { rate, seconds, tickMs, measureFrom = 0, acks = 1 } = message;
    const start = Date.now();
    const inFlight = new Set();
    // Hand-off -> broker acknowledgement per record (ms): the producer -> broker leg of the latency.
    const acked = [];
    let sent = 0;
    let failed;
    while (Date.now() - start < seconds * 1000 && failed === undefined) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (sent < due) {
        const timestamp = Date.now();
        const messages = nextMessages(Math.min(1000, due - sent)).map((record) => ({ ...record, timestamp }));
        const send = producer.send(messages, acks).then(
          () => {
            const ms = Date.now() - timestamp;
            if (timestamp >= measureFrom) for (let index = 0; index < messages.length; index += 1) acked.push(ms);
            inFlight.delete(send);
          },
          (error) => (failed = error),
        );
        inFlight.add(send);
        sent += messages.length;
      }
      // Bounded: a broker that stops answering stops the run instead of piling up sends.
      if (inFlight.size >= 64) await Promise.race(inFlight);
      else await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    await Promise.all(inFlight);
    if (failed !== undefined) throw failed;
    acked.sort((a, b) => a - b);
    const at = (q) => acked[Math.min(acked.length - 1, Math.floor(q * acked.length))] ?? 0;
    process.send({
      cmd: 'sent',
      sent,
      rate: sent / ((Date.now() - start) / 1000),
      acked: { p50: at(0.5), p99: at(0.99), max: acked[acked.length - 1] ?? 0 },
    });
  } else if (message.cmd === 'close') {
    await producer?.close();
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.send({ cmd: 'started' });
