import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Server as SocketIoServer } from 'socket.io';
import { startGateway } from '../../gateway/index.js';
import { createLogger, topicName } from '../../platform/index.js';
import { FIXTURE_SYMBOLS, patternEvents } from '../../projections/fixtures.js';
import { createTestTopics, type TestKafka } from '../../test/kafka.js';
import { percentile, type BenchOptions, type BenchSuite, type Figure } from '../harness.js';

/*
 * Gateway benchmark: connections held, fan-out events/s delivered, end-to-end latency at a fixed input rate;
 * the same three through a Socket.IO server fed by a kafkajs consumer (the broadcast design the brief came
 * from), in the same run. The server runs in this process; the clients in a child process (its own core and
 * file descriptors). Latency = client receive time - Kafka record time (set by the producer at send).
 */

interface Report {
  received: number;
  frames: number;
  firstAt: number;
  lastAt: number;
  latencies: number[];
}

class Clients {
  private readonly child: ChildProcess;
  private readonly started: Promise<void>;

  constructor() {
    this.child = fork(fileURLToPath(new URL('./gateway-clients.mjs', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.started = this.reply('started');
  }

  private reply<T>(cmd: string): Promise<T> {
    return new Promise((resolve) => {
      const listener = (message: { cmd: string }) => {
        if (message.cmd !== cmd) return;
        this.child.off('message', listener);
        resolve(message as T);
      };
      this.child.on('message', listener);
    });
  }

  async call<T>(message: { cmd: string } & Record<string, unknown>, answer: string): Promise<T> {
    await this.started;
    const reply = this.reply<T>(answer);
    this.child.send(message);
    return reply;
  }

  async close(): Promise<void> {
    await this.call({ cmd: 'close' }, 'closed');
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

interface System {
  readonly name: string;
  readonly kind: 'uws' | 'sio';
  readonly url: string;
  stop(): Promise<void>;
}

async function startUwsGateway(kafka: TestKafka): Promise<System> {
  const gateway = await startGateway({
    env: {},
    topicPrefix: kafka.prefix,
    brokers: kafka.brokers,
    registryUrl: kafka.registryUrl,
    databaseUrl: null,
    streams: ['patterns'],
    logger: createLogger('bench-gateway', { level: 'warn' }),
    authenticator: { authenticate: async () => ({ userId: 'bench', via: 'token' }) },
    universes: { symbolsFor: async () => undefined },
    config: { GATEWAY_PORT: 0, GATEWAY_FRAMES_PER_SECOND: 1000, GATEWAY_FRAME_BURST: 1000, GATEWAY_HEARTBEAT_MS: 60_000, GATEWAY_POLL_WAIT_MS: 20 },
  });
  return { name: 'uWS gateway', kind: 'uws', url: gateway.url, stop: () => gateway.stop() };
}

/** The baseline: every record decoded once and emitted to every matching socket (a room per symbol). */
async function startSocketIo(kafka: TestKafka): Promise<System> {
  const http = createServer();
  const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    const symbol = socket.handshake.query.symbol;
    void socket.join(typeof symbol === 'string' && symbol.length > 0 ? `symbol:${symbol}` : 'all');
    socket.emit('ready');
  });
  const consumer = kafka.kafka.consumer({ groupId: `bench-sio-${Date.now()}`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topic: topicName('patterns', kafka.prefix), fromBeginning: false });
  let assigned = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    assigned = true;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const data = await kafka.codec.decode<Record<string, unknown>>(message.value!);
        const key = message.key!.toString();
        const event = { p: batch.partition, o: Number(message.offset), ts: Number(message.timestamp), key, data };
        io.to('all').to(`symbol:${key}`).emit('event', event);
      }
    },
  });
  await waitFor(async () => assigned, 30_000);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    name: 'Socket.IO',
    kind: 'sio',
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await consumer.disconnect();
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

async function measure(system: System, kafka: TestKafka, options: { connections: number; fanoutEvents: number; rate: number; seconds: number; latencyClients: number }): Promise<Figure[]> {
  const baseline = system.kind === 'sio';
  const figures: Figure[] = [];
  const producer = kafka.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const encode = await kafka.codec.encoderFor<unknown>('patterns');
  const topic = topicName('patterns', kafka.prefix);
  const values = patternEvents(2000, 5).map((value) => ({ key: value.symbol, value: encode(value) }));

  // 1. Connections held, then fan-out of a burst to all of them.
  const many = new Clients();
  const opened = await many.call<{ ready: number; ms: number; rssMb: number }>({ cmd: 'open', kind: system.kind, url: system.kind === 'uws' ? system.url : system.url, n: options.connections, probes: 0 }, 'opened');
  figures.push({ name: `${system.name}: connections held`, value: opened.ready, unit: 'connections', baseline, note: `of ${options.connections}, opened in ${(opened.ms / 1000).toFixed(1)} s` });
  await producer.send({ topic, acks: 1, messages: values.slice(0, options.fanoutEvents) });
  const expected = opened.ready * options.fanoutEvents;
  let report: Report = { received: 0, frames: 0, firstAt: 0, lastAt: 0, latencies: [] };
  await waitFor(async () => {
    report = await many.call<Report>({ cmd: 'report' }, 'report');
    return report.received >= expected;
  }, 60_000);
  const seconds = Math.max(0.001, (report.lastAt - report.firstAt) / 1000);
  figures.push({
    name: `${system.name}: fan-out delivered`,
    value: report.received / seconds,
    unit: 'events/s',
    baseline,
    note: `${report.received} of ${expected} events (${options.fanoutEvents} to each connection) in ${seconds.toFixed(2)} s, ${report.frames} frames`,
  });
  await many.close();

  // 2. End-to-end latency at a fixed input rate, each client following one symbol.
  const few = new Clients();
  await few.call({ cmd: 'open', kind: system.kind, url: system.url, n: options.latencyClients, probes: options.latencyClients, symbols: FIXTURE_SYMBOLS }, 'opened');
  await few.call({ cmd: 'reset' }, 'reset');
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
  const start = Date.now();
  let sent = 0;
  let cursor = 0;
  while (Date.now() - start < options.seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * options.rate) + perTick;
    if (sent < due) {
      const messages = [];
      for (let index = 0; index < Math.min(1000, due - sent); index += 1) messages.push(values[(cursor += 1) % values.length]!);
      await producer.send({ topic, acks: 1, messages });
      sent += messages.length;
    } else await new Promise((resolve) => setTimeout(resolve, tickMs / 2));
  }
  const actualRate = sent / ((Date.now() - start) / 1000);
  await waitFor(async () => {
    report = await few.call<Report>({ cmd: 'report' }, 'report');
    return report.received >= sent * (options.latencyClients / FIXTURE_SYMBOLS.length) * 0.95;
  }, 30_000);
  await producer.disconnect();
  report = await few.call<Report>({ cmd: 'report' }, 'report');
  const note = `${actualRate.toFixed(0)} input events/s for ${options.seconds} s, ${options.latencyClients} clients on one symbol each, ${report.latencies.length} samples`;
  figures.push({ name: `${system.name}: end-to-end latency p50`, value: percentile(report.latencies, 50), unit: 'ms', baseline, note });
  figures.push({ name: `${system.name}: end-to-end latency p99`, value: percentile(report.latencies, 99), unit: 'ms', baseline, note });
  await few.close();
  return figures;
}

const suite: BenchSuite = {
  name: 'gateway',
  description: 'uWS gateway vs Socket.IO: connections held, fan-out events/s, end-to-end latency at a fixed input rate',
  async run({ scale, settings }: BenchOptions): Promise<Figure[]> {
    const options = {
      connections: Number(settings.connections ?? Math.round(10_000 * scale)),
      fanoutEvents: Number(settings.fanoutEvents ?? 100),
      rate: Number(settings.rate ?? 20_000),
      seconds: Number(settings.seconds ?? Math.max(2, Math.round(10 * scale))),
      latencyClients: Number(settings.latencyClients ?? 24),
    };
    const figures: Figure[] = [];
    for (const start of [startUwsGateway, startSocketIo]) {
      const kafka = await createTestTopics('bench-gw', ['patterns']);
      const system = await start(kafka);
      try {
        figures.push(...(await measure(system, kafka, options)));
      } finally {
        await system.stop();
        await kafka.cleanup();
      }
    }
    return figures;
  },
};

export default suite;
