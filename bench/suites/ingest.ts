import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLogger, topicName, type Registry } from '../../platform/index.js';
import { startIngest } from '../../ingest/index.js';
import { IngestCore } from '../../ingest/core.js';
import { createIngestMetrics } from '../../ingest/metrics.js';
import { KafkaSink } from '../../ingest/sink.js';
import { SimulatorFeed } from '../../ingest/simulator/feed.js';
import { buildUniverse } from '../../ingest/simulator/universe.js';
import { createMetricsRegistry } from '../../platform/index.js';
import { createTestTopics } from '../../test/kafka.js';
import { freePort, type BenchSuite, type Figure } from '../harness.js';
import { machineCpuSeconds, processesCpuSeconds } from '../proc-cpu.js';

async function counterSum(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.reduce((sum, entry) => sum + entry.value, 0);
}

async function simulatorSent(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /tickflow_simulator_events_sent_total\{[^}]*\} (\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (response) => response.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Simulator (its own process, as in production) -> ingest (this process: ws client, normalise, dedup,
 * Avro, idempotent kafkajs producer) -> Kafka (acks=all). Figures are taken over a window after a
 * warm-up: events acknowledged by Kafka per second, and CPU seconds per second of each process.
 * Settings: rate (offered events/s, default 150000), seconds (window, default 25 × scale), symbols,
 * batch (messages per request, default 2000), inFlight (default 1), client (kafkajs | platformatic), lease
 * (on: ingest under INGEST_LEASE, its one-instance cost);
 * mode=cost runs `ingestCost` instead.
 */
/**
 * Ingest's CPU per event with no socket and no simulator in the loop, so the figure moves less with
 * other load on the machine: frames pre-built by the simulator's feed (2,000 events each) go through
 * the pure core and the Kafka sink (real broker, acks=all) as fast as the sink takes them; the process
 * CPU over the run, divided into the records acknowledged. Settings: events (default 300000 × scale),
 * batch, inFlight, client.
 */
async function ingestCost(scale: number, settings: Readonly<Record<string, string>>): Promise<Figure[]> {
  const total = Number(settings.events ?? Math.round(300_000 * scale));
  const batch = Number(settings.batch ?? 2_000);
  const inFlight = Number(settings.inFlight ?? 1);
  const client = settings.client === 'platformatic' ? 'platformatic' : 'kafkajs';
  const env = await createTestTopics('bench-ingest-cost', [
    'trades',
    'quotes',
    'secondAggregates',
    'minuteAggregates',
    'dailyAggregates',
    'luld',
    'fmv',
    'symbols',
    'fundamentals',
    'deadLetters',
  ]);
  try {
    const feed = new SimulatorFeed(buildUniverse(500, 42), { seed: 42 });
    const frames: string[] = [];
    let clock = Date.UTC(2026, 10, 24, 15, 0);
    for (let events = 0; events < total; clock += 20) {
      const generated = feed.generate(clock, clock + 20, 2000);
      events += generated.length;
      frames.push(JSON.stringify(generated));
    }
    const registry = createMetricsRegistry('ingest', { collectDefaults: false });
    const metrics = createIngestMetrics(registry);
    const sink = await KafkaSink.create({
      kafka: env.kafka,
      codec: env.codec,
      logger: createLogger('bench-ingest-cost', { level: 'warn' }),
      metrics,
      benchmarkSymbol: 'SPY',
      maxBatchMessages: batch,
      maxInFlight: inFlight,
      client,
      brokers: env.brokers,
    });
    const core = new IngestCore({ source: 'simulator', dedup: { windowPerKey: 256, maxKeys: 50_000 } });
    const feedFrame = (frame: string) => sink.produce(core.processFrame(frame, Date.now()).records);
    const warmup = Math.min(20, Math.floor(frames.length / 10));
    frames.slice(0, warmup).forEach(feedFrame);
    await sink.flush();
    const outBefore = await counterSum(registry, 'tickflow_ingest_events_out_total');
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const frame of frames.slice(warmup)) {
      feedFrame(frame);
      // Backpressure as the live source applies it (it stops reading its socket).
      while (sink.buffered > 40_000) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await sink.flush();
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = (performance.now() - started) / 1000;
    const out = (await counterSum(registry, 'tickflow_ingest_events_out_total')) - outBefore;
    await sink.close();
    const note = `${client}, batches ≤ ${batch}, ${inFlight} in flight, acks=all, idempotent; frames pre-built, no socket`;
    return [
      {
        name: 'events acknowledged per ingest CPU-second (core + sink)',
        value: out / ((cpu.user + cpu.system) / 1e6),
        unit: 'events/CPU-s',
        note,
      },
      { name: 'events acknowledged by Kafka', value: out / elapsed, unit: 'events/s', note: `${out} events` },
    ];
  } finally {
    await env.cleanup();
  }
}

const suite: BenchSuite = {
  name: 'ingest',
  description: 'simulator -> ingest -> Kafka: sustained events/s acknowledged, CPU share of each side',
  async run({ scale, settings }) {
    if (settings.mode === 'cost') return ingestCost(scale, settings);
    const rate = Number(settings.rate ?? 150_000);
    const seconds = Number(settings.seconds ?? Math.max(5, Math.round(25 * scale)));
    const warmupSeconds = Number(settings.warmup ?? 5);
    const symbols = Number(settings.symbols ?? 500);
    const inFlight = Number(settings.inFlight ?? 1);
    const batch = Number(settings.batch ?? 2_000);
    const client = settings.client === 'platformatic' ? 'platformatic' : 'kafkajs';
    // lease=on: the one-instance cost of INGEST_LEASE (a transactional, fenced kafkajs producer; one transaction per batch).
    const lease = settings.lease === 'on';
    if (lease && client !== 'kafkajs') throw new Error('lease=on needs client=kafkajs: the lease fences through kafkajs transactions');
    const env = await createTestTopics('bench-ingest', [
      'trades',
      'quotes',
      'secondAggregates',
      'minuteAggregates',
      'dailyAggregates',
      'luld',
      'fmv',
      'symbols',
      'fundamentals',
      'deadLetters',
      ...(lease ? (['ingestCheckpoints'] as const) : []),
    ]);
    const port = await freePort();
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const simulator: ChildProcess = spawn(
      process.execPath,
      ['bin/tickflow.js', 'simulator', '--port', String(port), '--rate', String(rate), '--symbol-count', String(symbols)],
      {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'warn', SIMULATOR_FLOW_CONTROL: 'true' },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const logger = createLogger('bench-ingest', { level: 'warn' });
    let ingest: Awaited<ReturnType<typeof startIngest>> | undefined;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000);
      ingest = await startIngest({
        source: 'massive',
        url: `ws://127.0.0.1:${port}`,
        apiKey: 'bench',
        kafka: env.kafka,
        codec: env.codec,
        // As before startIngest took explicit options: the platform defaults' benchmark and client id.
        benchmarkSymbol: 'SPY',
        brokers: env.brokers,
        kafkaClientId: 'tickflow',
        logger,
        maxInFlight: inFlight,
        maxBatchMessages: batch,
        kafkaClient: client,
        lease: lease
          ? {
              id: `${env.prefix}lease`,
              topic: topicName('ingestCheckpoints', env.prefix),
              instance: 'bench',
              sessionTimeoutMs: 6_000,
              onLost: (reason) => logger.error({ reason }, 'the bench lost its ingest lease'),
            }
          : undefined,
      });
      // The warm-up starts once this instance writes: with a lease, when it has won it (a group join).
      for (const deadline = Date.now() + 30_000; ingest.role() !== 'active';) {
        if (Date.now() > deadline) throw new Error('the bench ingest did not win its lease within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));

      const before = {
        at: performance.now(),
        out: await counterSum(ingest.registry, 'tickflow_ingest_events_out_total'),
        in: await counterSum(ingest.registry, 'tickflow_ingest_events_in_total'),
        sent: await simulatorSent(port),
        ingestCpu: process.cpuUsage(),
        simulatorCpu: processesCpuSeconds([simulator.pid!]),
        machine: machineCpuSeconds(),
      };
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const elapsed = (performance.now() - before.at) / 1000;
      const out = (await counterSum(ingest.registry, 'tickflow_ingest_events_out_total')) - before.out;
      const received = (await counterSum(ingest.registry, 'tickflow_ingest_events_in_total')) - before.in;
      const sent = (await simulatorSent(port)) - before.sent;
      const ingestCpu = process.cpuUsage(before.ingestCpu);
      const simulatorCpu = processesCpuSeconds([simulator.pid!]) - before.simulatorCpu;
      const machine = machineCpuSeconds();
      const machineBusy = (machine.busy - before.machine.busy) / (machine.total - before.machine.total);
      const reconnects = await counterSum(ingest.registry, 'tickflow_ingest_reconnects_total');

      const figures: Figure[] = [
        {
          name: 'events acknowledged by Kafka',
          value: out / elapsed,
          unit: 'events/s',
          note: `${seconds} s window after ${warmupSeconds} s warm-up; offered up to ${rate}/s (closed loop: the simulator generates only while ingest keeps up), ${symbols} symbols, acks=all, idempotent ${client} producer${lease ? ' under INGEST_LEASE (transactional, fenced)' : ''}, ${inFlight} request(s) in flight, batches ≤ ${batch}`,
        },
        { name: 'events received by ingest', value: received / elapsed, unit: 'events/s' },
        { name: 'events sent by simulator', value: sent / elapsed, unit: 'events/s' },
        { name: 'ingest process CPU', value: ((ingestCpu.user + ingestCpu.system) / 1e6 / elapsed) * 100, unit: '% of one core' },
        {
          name: 'events acknowledged per ingest CPU-second',
          value: out / ((ingestCpu.user + ingestCpu.system) / 1e6),
          unit: 'events/CPU-s',
          note: 'cost of the ingest side; throughput if it had a core to itself and Kafka kept up',
        },
        { name: 'simulator process CPU', value: (simulatorCpu / elapsed) * 100, unit: '% of one core' },
        { name: 'machine busy (all processes, 2 cores)', value: machineBusy * 100, unit: '%', note: 'includes Kafka and other sessions' },
        { name: 'reconnects during run', value: reconnects, unit: 'count' },
      ];
      return figures;
    } finally {
      await ingest?.stop();
      if (simulator.exitCode === null) {
        const exited = new Promise((resolve) => simulator.once('exit', resolve));
        simulator.kill('SIGTERM');
        await exited;
      }
      await env.cleanup();
    }
  },
};

export default suite;
