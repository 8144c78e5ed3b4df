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
    // `rate` records/s for `seconds`: every `tickMs`, whatever is due, one send at a time (acks=1, no linger).
    const { rate, seconds, tickMs } = message;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate) + perTick;
      if (sent < due) {
        const messages = nextMessages(Math.min(1000, due - sent));
        await producer.send({ topic, acks: 1, messages });
        sent += messages.length;
      } else await new Promise((resolve) => setTimeout(resolve, tickMs / 2));
    }
    process.send({ cmd: 'sent', sent, rate: sent / ((Date.now() - start) / 1000) });
  } else if (message.cmd === 'close') {
    await producer?.disconnect();
    process.send({ cmd: 'closed' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.send({ cmd: 'started' });
