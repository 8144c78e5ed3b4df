// Producer side of the gateway benchmark, run as a child process: in production the gateway does not share its
// process with the producers (ingest, processors), so the bench's kafkajs producer (its encoding, its garbage) must
// not share the gateway's event loop either. Driven over the IPC channel by bench/suites/gateway.ts.
import { Kafka, Partitioners, logLevel } from 'kafkajs';

let producer;
let topic;
let values = [];
let cursor = 0;

function nextMessages(n) {
  const messages = [];
  for (let index = 0; index < n; index += 1) messages.push(values[(cursor += 1) % values.length]);
  return messages;
}

process.on('message', async (message) => {
  if (message.cmd === 'connect') {
    topic = message.topic;
    values = message.values.map(({ key, value }) => ({ key, value: Buffer.from(value, 'base64') }));
    const kafka = new Kafka({ clientId: 'bench-gateway-producer', brokers: message.brokers, logLevel: logLevel.NOTHING });
    producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    process.send({ cmd: 'connected' });
  } else if (message.cmd === 'burst') {
    // The first `n` values, in one send (the fan-out phase).
    await producer.send({ topic, acks: 1, messages: values.slice(0, message.n) });
    process.send({ cmd: 'sent', sent: message.n });
  } else if (message.cmd === 'rate') {
    // `rate` records/s for `seconds`, open loop: every `tickMs`, whatever is due is handed to the producer
    // (acks=1, no linger) without waiting for earlier sends to be acknowledged, so a slow acknowledgement holds
    // no record back. Each record's timestamp (its Kafka CreateTime, where the bench's latency starts) is set
    // here, when the record is handed to the producer, not by kafkajs when it later encodes the request.
    const { rate, seconds, tickMs } = message;
    const start = Date.now();
    const inFlight = new Set();
    // Hand-off -> broker acknowledgement per record (ms): the producer -> broker leg of the latency.
    const acked = [];
    let sent = 0;
    let failed;
    while (Date.now() - start < seconds * 1000 && failed === undefined) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (sent < due) {
        const timestamp = String(Date.now());
        const messages = nextMessages(Math.min(1000, due - sent)).map((record) => ({ ...record, timestamp }));
        const send = producer.send({ topic, acks: 1, messages }).then(
          () => {
            const ms = Date.now() - Number(timestamp);
            for (let index = 0; index < messages.length; index += 1) acked.push(ms);
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
    process.send({ cmd: 'sent', sent, rate: sent / ((Date.now() - start) / 1000), acked: { p50: at(0.5), p99: at(0.99), max: acked[acked.length - 1] ?? 0 } });
  } else if (message.cmd === 'close') {
    await producer?.disconnect();
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.send({ cmd: 'started' });
