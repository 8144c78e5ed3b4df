import { ONE_BROKER, THREE_BROKERS, TestCluster, type TestClusterShape } from '../../test/cluster.js';
import type { BenchSuite, Figure } from '../harness.js';
import { machineCpuSeconds, processesCpuSeconds } from '../proc-cpu.js';
import gateway from './gateway.js';
import ingest from './ingest.js';

/**
 * What replication costs (issue 21): the same two measurements on one broker with one replica and on three brokers
 * with three replicas, two in sync, every write acks=all, in one run on one machine. Ingest: events/s acknowledged by
 * Kafka (the `ingest` suite, simulator -> ingest -> Kafka). Gateway: end-to-end p50/p99 (record handed to the
 * producer -> client) at 20,000 input events/s (the `gateway` suite's latency phase, uWS only, producer acks=all).
 * Both clusters are this run's own, started from the stack's Kafka with the same settings (512 MiB heap per broker)
 * one after the other (test/cluster.ts: one broker on 29092, three on 19092-19094), so neither shares the machine
 * with the other's JVMs, and the shared stack on 9092 is not used.
 * Where the time goes: the gateway suite's latency-phase diagnostics (hand-off -> ack, record time -> gateway tail,
 * machine stalls), and the brokers' and the whole machine's CPU over the gateway run.
 * Settings: rate (gateway input events/s, default 20000), connections (gateway fan-out phase, default 200 × scale),
 * and any setting of the two suites (seconds, warmup, symbols, batch, inFlight, producer, diagnostics, ...).
 */
const TARGETS: readonly { readonly label: string; readonly shape: TestClusterShape }[] = [
  { label: 'one broker, RF=1', shape: ONE_BROKER },
  { label: 'three brokers, RF=3, min.insync 2', shape: THREE_BROKERS },
];

/** Runs `work` with `env` over process.env (the suites read the platform settings when they start), then restores it. */
async function withEnv<T>(env: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await work();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function pick(figures: readonly Figure[], name: string, label: string, target: string): Figure {
  const figure = figures.find((entry) => entry.name === name);
  if (!figure) throw new Error(`the ${label} run gave no figure "${name}"`);
  return { ...figure, name: `${target}: ${label}` };
}

/** Seconds the cluster's CPU is measured with no client, before the suites run. */
const IDLE_SECONDS = 10;

/** The gateway suite's latency-phase diagnostics kept per cluster (absent with diagnostics=off). */
const GATEWAY_DIAGNOSTICS: readonly (readonly [string, string])[] = [
  ['uWS gateway: record handed to the producer -> broker ack p99 (diagnostic)', 'producer hand-off -> broker ack p99'],
  ['uWS gateway: record time -> gateway tail p50 / p99 (diagnostic)', 'record time -> gateway tail p99'],
  ["uWS gateway: machine stall, an idle process's wake-up lateness p99 (diagnostic)", 'machine stall p99'],
  ['uWS gateway: server-process event-loop delay p99 (diagnostic)', 'gateway event-loop delay p99'],
];

const suite: BenchSuite = {
  name: 'replication',
  onlyByName: true,
  description: 'one broker RF=1 vs three brokers RF=3 acks=all: ingest events/s and gateway end-to-end p50/p99 at 20k events/s',
  async run({ scale, settings }) {
    const figures: Figure[] = [];
    const measure = async (target: (typeof TARGETS)[number], cluster: TestCluster) =>
      withEnv(cluster.clientEnv, async () => {
        // The cluster's own cost with no client at all (controller quorum, replica fetchers, heartbeats).
        const brokerPids = () => cluster.nodeIds.flatMap((id) => cluster.pidOf(id) ?? []);
        const idleFrom = { brokers: processesCpuSeconds(brokerPids()), machine: machineCpuSeconds() };
        await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
        const idleWall = (machineCpuSeconds().total - idleFrom.machine.total) / 2;
        figures.push({
          name: `${target.label}: brokers' CPU with no client`,
          value: (processesCpuSeconds(brokerPids()) - idleFrom.brokers) / idleWall,
          unit: 'cores',
          note: `of 2, over ${idleWall.toFixed(0)} s right after the cluster is up`,
        });
        const ingestFigures = await ingest.run({ scale, settings });
        figures.push(pick(ingestFigures, 'events acknowledged by Kafka', 'ingest events acknowledged (acks=all)', target.label));
        figures.push(pick(ingestFigures, 'ingest process CPU', 'ingest process CPU', target.label));
        const cpuBefore = { brokers: processesCpuSeconds(brokerPids()), machine: machineCpuSeconds() };
        const gatewayFigures = await gateway.run({
          scale,
          settings: {
            connections: String(Math.max(50, Math.round(200 * scale))),
            ...settings,
            rate: settings.rate ?? '20000',
            systems: 'uws',
            diagnostics: settings.diagnostics ?? 'phase',
            acks: '-1',
          },
        });
        const machine = machineCpuSeconds();
        const wall = (machine.total - cpuBefore.machine.total) / 2; // both cores' seconds
        figures.push(pick(gatewayFigures, 'uWS gateway: end-to-end latency p50', 'gateway end-to-end p50', target.label));
        figures.push(pick(gatewayFigures, 'uWS gateway: end-to-end latency p99', 'gateway end-to-end p99', target.label));
        for (const [name, label] of GATEWAY_DIAGNOSTICS) {
          if (gatewayFigures.some((figure) => figure.name === name)) figures.push(pick(gatewayFigures, name, label, target.label));
        }
        figures.push({
          name: `${target.label}: brokers' CPU over the gateway run`,
          value: (processesCpuSeconds(brokerPids()) - cpuBefore.brokers) / wall,
          unit: 'cores',
          note: `of 2; the whole machine was busy ${((machine.busy - cpuBefore.machine.busy) / wall).toFixed(2)} cores over ${wall.toFixed(0)} s (fan-out and latency phases)`,
        });
      });
    for (const target of TARGETS) {
      const cluster = new TestCluster(target.shape);
      const report = (line: string) => console.log(`[${target.label}] ${line}`);
      try {
        await cluster.up(report);
        await measure(target, cluster);
      } finally {
        await cluster.down(report);
      }
    }
    const throughput = (target: (typeof TARGETS)[number]) =>
      figures.find((figure) => figure.name === `${target.label}: ingest events acknowledged (acks=all)`)!.value;
    figures.push({
      name: 'ingest throughput, replicated / single broker',
      value: throughput(TARGETS[1]!) / throughput(TARGETS[0]!),
      unit: 'ratio',
      note: 'goal: at least 0.5 (replication costs at most half)',
    });
    return figures;
  },
};

export default suite;
