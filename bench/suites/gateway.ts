import { fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { Server as SocketIoServer } from 'socket.io';
import { topicName } from '../../platform/index.js';
import { FIXTURE_SYMBOLS, patternEvents } from '../../test/record-fixtures.js';
import { LocalStack } from '../../stack/local-stack.js';
import { createTestTopics, type TestKafka } from '../../test/kafka.js';
import { percentile, type BenchOptions, type BenchSuite, type Figure } from '../harness.js';
import {
  checkServerRuntime,
  describeServerRuntime,
  gatewayServerCommand,
  parseGatewayRuntimes,
  runtimeComparison,
  runtimeSystemName,
  type GatewayRuntime,
  type ServerCommand,
  type ServerRuntime,
} from './gateway/runtimes.js';
import { probeThisProcess, startBenchGateway, type BenchKafka, type ServerDiagnostics, type ServerProbe } from './gateway/server.js';

/*
 * Gateway benchmark: connections held, fan-out events/s delivered, end-to-end latency at a fixed input rate;
 * the same three through a Socket.IO server fed by a kafkajs consumer (the broadcast design the brief came
 * from), in the same run. The server runs in this process, or with `--set runtimes=node20,node24` the uWS gateway
 * runs once per runtime in a server process of its own (Node 24 in a Debian 13 rootfs: ./gateway/runtimes.ts);
 * the clients in a child process (its own core and file descriptors). Latency = client receive time - Kafka record
 * time, which the producer process sets when it hands the record to its Kafka client (not when the client later
 * encodes the request).
 */

interface Report {
  received: number;
  frames: number;
  firstAt: number;
  lastAt: number;
  latencies: number[];
}

/** A helper process of the bench (clients, producer, probe or gateway server), driven by request/answer messages over IPC. */
class Child {
  private readonly child: ChildProcess;
  private readonly started: Promise<void>;
  /** Set when the process has exited: every pending and later request fails with it. */
  private exited: Error | undefined;

  constructor(what: 'gateway-clients.mjs' | 'gateway-producer.mjs' | 'stall-probe.mjs' | ServerCommand) {
    const stdio: StdioOptions = ['ignore', 'inherit', 'inherit', 'ipc'];
    this.child =
      typeof what === 'string'
        ? fork(fileURLToPath(new URL(`./${what}`, import.meta.url)), [], { stdio })
        : spawn(what.command, what.args, { cwd: what.cwd, env: what.env, stdio });
    const name = typeof what === 'string' ? what : [what.command, ...what.args].join(' ');
    this.child.once('exit', (code, signal) => {
      this.exited = new Error(`${name} exited (${signal ?? `code ${code}`})`);
    });
    this.started = this.reply('started');
    // A process that dies before it starts fails the first call (which awaits this), not the bench process.
    this.started.catch(() => {});
  }

  private reply<T>(cmd: string): Promise<T> {
    return new Promise((resolve, reject) => {
      if (this.exited) {
        reject(this.exited);
        return;
      }
      const listener = (message: { cmd: string; message?: string }) => {
        if (message.cmd !== cmd && message.cmd !== 'error') return;
        done();
        if (message.cmd === 'error') reject(new Error(message.message));
        else resolve(message as T);
      };
      const onExit = () => {
        done();
        reject(this.exited!);
      };
      const done = () => {
        this.child.off('message', listener);
        this.child.off('exit', onExit);
      };
      this.child.on('message', listener);
      this.child.on('exit', onExit);
    });
  }

  async call<T>(message: { cmd: string } & Record<string, unknown>, answer: string): Promise<T> {
    await this.started;
    const reply = this.reply<T>(answer);
    this.child.send(message);
    return reply;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise((resolve) => this.child.once('exit', resolve));
    await this.call({ cmd: 'close' }, 'closed');
    await exit;
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
  /** The server process during the latency phase (this process, or the gateway's own under `runtimes`). */
  readonly probe: ServerProbe;
  /** What served, for the figures' notes (a runtime's Node and uWS build). */
  readonly runtime?: string;
  stop(): Promise<void>;
}

function benchKafka(kafka: TestKafka): BenchKafka {
  return { brokers: kafka.brokers, registryUrl: kafka.registryUrl, prefix: kafka.prefix };
}

/** The uWS gateway inside this process (no `runtimes` setting). */
async function startUwsGateway(kafka: TestKafka, settings: Readonly<Record<string, string>>): Promise<System> {
  const gateway = await startBenchGateway(benchKafka(kafka), settings);
  return { name: 'uWS gateway', kind: 'uws', url: gateway.url, probe: gateway.probe, stop: () => gateway.stop() };
}

/**
 * The uWS gateway in a server process of its own under `runtime` (./gateway/runtimes.ts): it must run that
 * runtime's Node on a native uWS build, or the bench fails (a refusal, a fallback, a missing rootfs alike).
 */
function uwsGatewayOn(runtime: GatewayRuntime) {
  return async (kafka: TestKafka, settings: Readonly<Record<string, string>>): Promise<System> => {
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    const server = new Child(
      gatewayServerCommand(runtime, { repo, execPath: process.execPath, nodeVersion: process.version, env: process.env }),
    );
    try {
      const { url, runtime: served } = await server.call<{ url: string; runtime: ServerRuntime }>(
        { cmd: 'start', kafka: benchKafka(kafka), settings },
        'listening',
      );
      checkServerRuntime(runtime, served);
      return {
        name: runtimeSystemName(runtime),
        kind: 'uws',
        url,
        runtime: describeServerRuntime(runtime, served),
        probe: {
          start: async (options) => {
            // Profile files of each runtime's server apart: <prefix>.<runtime>.uws.heapprofile.
            const named = (prefix: string | undefined) => prefix && `${prefix}.${runtime}`;
            const perRuntime = { ...options, allocProfile: named(options.allocProfile), cpuProfile: named(options.cpuProfile) };
            await server.call({ cmd: 'probe-start', options: perRuntime }, 'probing');
          },
          stop: async () => (await server.call<{ diagnostics: ServerDiagnostics }>({ cmd: 'probe-stop' }, 'diagnostics')).diagnostics,
        },
        stop: () => server.close(),
      };
    } catch (error) {
      await server.close().catch(() => {});
      throw error;
    }
  };
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
    probe: probeThisProcess('sio'),
    stop: async () => {
      await consumer.disconnect();
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

interface LatencyOptions {
  /** Input events per second. */
  readonly rate: number;
  /** Seconds timed, after the warm-up. */
  readonly seconds: number;
  /** Seconds at the full rate before timing starts. */
  readonly warmupSeconds: number;
}

/** The producer's open-loop run: warm-up plus timed seconds, acknowledgements timed from `measureFrom`. */
function rateCommand(settings: Readonly<Record<string, string>>, options: LatencyOptions, measureFrom: number) {
  return {
    cmd: 'rate',
    rate: options.rate,
    seconds: options.warmupSeconds + options.seconds,
    measureFrom,
    tickMs: Number(settings.tickMs ?? 5),
    // Producer acks (1 by default; -1 = all, as the replication bench sets).
    acks: Number(settings.acks ?? 1),
  };
}

async function measure(
  system: System,
  kafka: TestKafka,
  settings: Readonly<Record<string, string>>,
  options: LatencyOptions & { connections: number; fanoutEvents: number; latencyClients: number },
): Promise<Figure[]> {
  const baseline = system.kind === 'sio';
  const figures: Figure[] = [];
  const encode = await kafka.codec.encoderFor<unknown>('patterns');
  const topic = topicName('patterns', kafka.prefix);
  // The producer runs in its own process, as ingest and the processors do in production. It is only the load
  // generator, on the same two cores as the gateway under test, so by default it is the cheaper client
  // (`--set producer=kafkajs` for the pipeline's own; both with Nagle off, as the platform's Kafka client).
  const producer = new Child('gateway-producer.mjs');
  const values = patternEvents(2000, 5).map((value) => ({ key: value.symbol, value: encode(value).toString('base64') }));
  await producer.call({ cmd: 'connect', brokers: kafka.brokers, topic, values, client: settings.producer ?? 'platformatic' }, 'connected');

  // 1. Connections held, then fan-out of a burst to all of them.
  const many = new Child('gateway-clients.mjs');
  const opened = await many.call<{ ready: number; ms: number; rssMb: number }>(
    { cmd: 'open', kind: system.kind, url: system.url, n: options.connections, probes: 0 },
    'opened',
  );
  figures.push({
    name: `${system.name}: connections held`,
    value: opened.ready,
    unit: 'connections',
    baseline,
    note: `of ${options.connections}, opened in ${(opened.ms / 1000).toFixed(1)} s${system.runtime ? `; ${system.runtime}` : ''}`,
  });
  await producer.call({ cmd: 'burst', n: options.fanoutEvents }, 'sent');
  const expected = opened.ready * options.fanoutEvents;
  let report: Report = { received: 0, frames: 0, firstAt: 0, lastAt: 0, latencies: [] };
  await waitFor(async () => {
    report = { ...(await many.call<Omit<Report, 'latencies'>>({ cmd: 'count' }, 'count')), latencies: [] };
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
  const few = new Child('gateway-clients.mjs');
  await few.call(
    {
      cmd: 'open',
      kind: system.kind,
      url: system.url,
      n: options.latencyClients,
      probes: options.latencyClients,
      symbols: FIXTURE_SYMBOLS,
    },
    'opened',
  );
  // Latencies are taken after a warm-up at the full rate: the first second of a fresh producer, topic and reader
  // (connections, metadata, the broker's first appends, JIT) is a transient of its own: in five runs with no client
  // (2026-11-26), 7,760-20,200 records reached the tail more than 20 ms late, up to 286 ms, all in the first 0.5-1.5 s,
  // which alone set the p99 of a 10 s run. The goal is about a sustained rate.
  const measureFrom = Date.now() + options.warmupSeconds * 1000;
  await few.call({ cmd: 'reset', measureFrom }, 'reset');
  const stalls = new Child('stall-probe.mjs');
  await stalls.call({ cmd: 'start' }, 'probing');
  await system.probe.start({ from: measureFrom, allocProfile: settings.allocProfile, cpuProfile: settings.cpuProfile });
  const {
    sent,
    rate: actualRate,
    acked,
  } = await producer.call<{ sent: number; rate: number; acked: { p50: number; p99: number; max: number } }>(
    rateCommand(settings, options, measureFrom),
    'sent',
  );
  await waitFor(
    async () =>
      (await few.call<{ received: number }>({ cmd: 'count' }, 'count')).received >=
      sent * (options.latencyClients / FIXTURE_SYMBOLS.length) * 0.95,
    30_000,
  );
  const server = await system.probe.stop();
  const lateness = await stalls.call<{ samples: number; p99: number; max: number; over20: number }>({ cmd: 'stop' }, 'lateness');
  await stalls.close();
  await producer.close();
  report = await few.call<Report>({ cmd: 'report' }, 'report');
  const note = `${actualRate.toFixed(0)} input events/s (${settings.producer ?? 'platformatic'} producer, acks=${settings.acks ?? 1}) for ${options.seconds} s after ${options.warmupSeconds} s of warm-up, ${options.latencyClients} clients on one symbol each, ${report.latencies.length} samples`;
  figures.push({ name: `${system.name}: end-to-end latency p50`, value: percentile(report.latencies, 50), unit: 'ms', baseline, note });
  figures.push({ name: `${system.name}: end-to-end latency p99`, value: percentile(report.latencies, 99), unit: 'ms', baseline, note });
  if (settings.diagnostics !== 'off') {
    // Where the time goes in the server process during the latency phase.
    figures.push({
      name: `${system.name}: record handed to the producer -> broker ack p99 (diagnostic)`,
      value: acked.p99,
      unit: 'ms',
      baseline,
      note: `p50 ${acked.p50} ms, max ${acked.max} ms (acks=${settings.acks ?? 1}; the producer -> broker leg, before any reader)`,
    });
    const { tail, tailReads, cpu, loopDelay, gc } = server;
    if (tail.samples > 0) {
      figures.push({
        name: `${system.name}: record time -> gateway tail p50 / p99 (diagnostic)`,
        value: tail.p99,
        unit: 'ms',
        baseline,
        note: `p50 ${tail.p50} ms, max ${tail.max} ms, ${tail.samples} records in ${tailReads.reads} reads (${tailReads.empty} empty)`,
      });
    }
    figures.push({
      name: `${system.name}: server-process CPU per input event (diagnostic)`,
      value: (cpu.user + cpu.system) / sent,
      unit: 'µs',
      baseline,
      note: `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU (user ${(cpu.user / 1e6).toFixed(2)} s) for ${sent} input events, ${report.received} deliveries`,
    });
    figures.push({
      name: `${system.name}: machine stall, an idle process's wake-up lateness p99 (diagnostic)`,
      value: lateness.p99,
      unit: 'ms',
      baseline,
      note: `max ${lateness.max.toFixed(1)} ms, ${lateness.over20} of ${lateness.samples} wake-ups (every 2 ms) over 20 ms late: what the machine imposes on any process`,
    });
    figures.push({
      name: `${system.name}: server-process event-loop delay p99 (diagnostic)`,
      value: loopDelay.p99,
      unit: 'ms',
      baseline,
      note: `max ${loopDelay.max.toFixed(1)} ms; GC: ${gc.pauses} pauses, longest ${gc.longest.toFixed(1)} ms, total ${gc.total.toFixed(0)} ms`,
    });
  }
  await few.close();
  return figures;
}

/**
 * Runs `run` with the broker's request log on, and returns the broker's own time (totalTimeMs: from the request
 * read off the socket to the response written) of each produce request it logged meanwhile. That part of the
 * producer -> broker leg is Kafka's work; the rest is the client and the scheduling of the shared cores.
 * `times` is undefined when the broker's log is not the local stack's file.
 */
async function brokerProduceTimes<T>(brokers: string[], run: () => Promise<T>): Promise<{ result: T; times: number[] | undefined }> {
  const log = new LocalStack().logFile('kafka');
  if (!existsSync(log)) return { result: await run(), times: undefined };
  const admin = new Admin({ clientId: 'bench-request-log', bootstrapBrokers: brokers });
  let nodes: number[] | undefined;
  const setLevel = async (value: string) => {
    nodes ??= [...(await admin.metadata({ topics: [] })).brokers.keys()];
    const resources = nodes.map((id) => ({
      resourceType: ConfigResourceTypes.BROKER_LOGGER,
      resourceName: String(id),
      configs: [{ name: 'kafka.request.logger', configOperation: IncrementalAlterConfigOperationTypes.SET, value }],
    }));
    await admin.incrementalAlterConfigs({ resources });
  };
  const from = statSync(log).size;
  let result: T;
  try {
    await setLevel('DEBUG');
    result = await run();
  } finally {
    // Back to the stack's level (stack/log4j2.properties), whatever happened.
    await setLevel('WARN').finally(() => admin.close());
  }
  const text = readFileSync(log).subarray(from).toString('utf8');
  const times = [...text.matchAll(/"requestApiKeyName":"PRODUCE".*?"totalTimeMs":([0-9.]+)/g)].map((match) => Number(match[1]));
  return { result, times };
}

/**
 * The producer -> broker leg with nothing else running: the same producer at the same rate into a topic no one
 * reads. What the latency phase's hand-off -> ack figure adds to it is contention for the two cores.
 */
async function brokerAlone(settings: Readonly<Record<string, string>>, options: LatencyOptions): Promise<Figure> {
  const kafka = await createTestTopics('bench-gw-alone', ['patterns']);
  const producer = new Child('gateway-producer.mjs');
  try {
    const encode = await kafka.codec.encoderFor<unknown>('patterns');
    const values = patternEvents(2000, 5).map((value) => ({ key: value.symbol, value: encode(value).toString('base64') }));
    await producer.call(
      {
        cmd: 'connect',
        brokers: kafka.brokers,
        topic: topicName('patterns', kafka.prefix),
        values,
        client: settings.producer ?? 'platformatic',
      },
      'connected',
    );
    const { result, times } = await brokerProduceTimes(kafka.brokers, () =>
      producer.call<{ rate: number; acked: { p50: number; p99: number; max: number } }>(
        rateCommand(settings, options, Date.now() + options.warmupSeconds * 1000),
        'sent',
      ),
    );
    const { rate, acked } = result;
    const broker = times?.length
      ? `; the broker's own time on the ${times.length} produce requests (its request log): p50 ${percentile(times, 50)} ms, p99 ${percentile(times, 99)} ms, max ${Math.max(...times)} ms`
      : '';
    return {
      name: 'broker alone: record handed to the producer -> broker ack p99 (diagnostic)',
      value: acked.p99,
      unit: 'ms',
      note: `p50 ${acked.p50} ms, max ${acked.max} ms at ${rate.toFixed(0)} events/s (acks=${settings.acks ?? 1}), no gateway, no reader${broker}`,
    };
  } finally {
    await producer.close();
    await kafka.cleanup();
  }
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
      warmupSeconds: Number(settings.warmup ?? 2),
      latencyClients: Number(settings.latencyClients ?? 24),
    };
    const figures: Figure[] = [];
    const systems = (settings.systems ?? 'uws,sio').split(',');
    // `runtimes`: the uWS gateway once per runtime, each in a server process of its own; unset, inside this process.
    const runtimes = parseGatewayRuntimes(settings.runtimes);
    const uws = runtimes ? runtimes.map(uwsGatewayOn) : [startUwsGateway];
    const starters = [...(systems.includes('uws') ? uws : []), ...(systems.includes('sio') ? [startSocketIo] : [])];
    for (const start of starters) {
      const kafka = await createTestTopics('bench-gw', ['patterns']);
      try {
        const system = await start(kafka, settings);
        try {
          figures.push(...(await measure(system, kafka, settings, options)));
        } finally {
          await system.stop();
        }
      } finally {
        // Also when a system does not start (a runtime whose gateway refuses): no topics left behind.
        await kafka.cleanup();
      }
    }
    // The broker-alone diagnostic runs after the systems (its figure still comes first): where this checkout's own
    // stack runs, it turns the broker's request log on, and what that left behind lengthened the next latency
    // phase's tail (the #19 "regression" of 2026-12-06 was this, not the gateway's code).
    // `diagnostics=phase` keeps the latency phase's own diagnostics and skips this one (the replication bench's
    // clusters are not the local stack, whose request log it reads).
    if (settings.diagnostics !== 'off' && settings.diagnostics !== 'phase') figures.unshift(await brokerAlone(settings, options));
    // Node 20 and Node 24 side by side: each runtime's figures against the first's.
    figures.push(...runtimeComparison(figures, runtimes ?? []));
    return figures;
  },
};

export default suite;
