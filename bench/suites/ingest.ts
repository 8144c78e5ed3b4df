import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLogger, type Registry } from '../../platform/index.js';
import { startIngest } from '../../ingest/index.js';
import { createTestTopics } from '../../test/kafka.js';
import type { BenchSuite, Figure } from '../harness.js';

const TICKS_PER_SECOND = 100; // Linux USER_HZ

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) a process has used, from /proc. */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Whole-machine busy and total CPU seconds, from /proc/stat (other sessions' load shows here). */
function machineCpuSeconds(): { busy: number; total: number } {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = values[3]! + values[4]!;
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

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
    if (await fetch(url).then((response) => response.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Simulator (its own process, as in production) -> ingest (this process: ws client, normalise, dedup,
 * Avro, idempotent kafkajs producer) -> Kafka (acks=all). Figures are taken over a window after a
 * warm-up: events acknowledged by Kafka per second, and CPU seconds per second of each process.
 * Settings: rate (offered events/s, default 150000), seconds (window, default 25 × scale), symbols,
 * batch (messages per request, default 2000), inFlight (default 1), client (kafkajs | platformatic).
 */
const suite: BenchSuite = {
  name: 'ingest',
  description: 'simulator -> ingest -> Kafka: sustained events/s acknowledged, CPU share of each side',
  async run({ scale, settings }) {
    const rate = Number(settings.rate ?? 150_000);
    const seconds = Number(settings.seconds ?? Math.max(5, Math.round(25 * scale)));
    const warmupSeconds = Number(settings.warmup ?? 5);
    const symbols = Number(settings.symbols ?? 500);
    const inFlight = Number(settings.inFlight ?? 1);
    const batch = Number(settings.batch ?? 2_000);
    const client = settings.client === 'platformatic' ? 'platformatic' : 'kafkajs';
    const env = await createTestTopics('bench-ingest', ['trades', 'quotes', 'secondAggregates', 'minuteAggregates', 'dailyAggregates', 'luld', 'fmv', 'symbols', 'fundamentals', 'deadLetters']);
    const port = await freePort();
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const simulator: ChildProcess = spawn(process.execPath, ['bin/tickflow.js', 'simulator', '--port', String(port), '--rate', String(rate), '--symbols', String(symbols)], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', SIMULATOR_FLOW_CONTROL: 'true' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const logger = createLogger('bench-ingest', { level: 'warn' });
    let ingest: Awaited<ReturnType<typeof startIngest>> | undefined;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000);
      ingest = await startIngest({ source: 'massive', url: `ws://127.0.0.1:${port}`, apiKey: 'bench', kafka: env.kafka, codec: env.codec, logger, maxInFlight: inFlight, maxBatchMessages: batch, kafkaClient: client });
      await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));

      const before = {
        at: performance.now(),
        out: await counterSum(ingest.registry, 'tickflow_ingest_events_out_total'),
        in: await counterSum(ingest.registry, 'tickflow_ingest_events_in_total'),
        sent: await simulatorSent(port),
        ingestCpu: process.cpuUsage(),
        simulatorCpu: processCpuSeconds(simulator.pid!),
        machine: machineCpuSeconds(),
      };
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const elapsed = (performance.now() - before.at) / 1000;
      const out = (await counterSum(ingest.registry, 'tickflow_ingest_events_out_total')) - before.out;
      const received = (await counterSum(ingest.registry, 'tickflow_ingest_events_in_total')) - before.in;
      const sent = (await simulatorSent(port)) - before.sent;
      const ingestCpu = process.cpuUsage(before.ingestCpu);
      const simulatorCpu = processCpuSeconds(simulator.pid!) - before.simulatorCpu;
      const machine = machineCpuSeconds();
      const machineBusy = (machine.busy - before.machine.busy) / (machine.total - before.machine.total);
      const reconnects = await counterSum(ingest.registry, 'tickflow_ingest_reconnects_total');

      const figures: Figure[] = [
        { name: 'events acknowledged by Kafka', value: out / elapsed, unit: 'events/s', note: `${seconds} s window after ${warmupSeconds} s warm-up; offered up to ${rate}/s (closed loop: the simulator generates only while ingest keeps up), ${symbols} symbols, acks=all, idempotent ${client} producer, ${inFlight} request(s) in flight, batches ≤ ${batch}` },
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
