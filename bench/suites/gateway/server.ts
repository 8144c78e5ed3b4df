import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { KafkaLogSource, avroDecoder, loadGatewayConfig, loadUws, startGateway, type LogSource } from '../../../gateway/index.js';
import { AvroCodec, createLogger, loadPlatformConfig } from '../../../platform/index.js';
import { percentile } from '../../harness.js';

/*
 * The gateway's server side of the gateway bench, the same whether it runs inside the bench process or in a server
 * process of its own (./server-process.ts, under another runtime): the gateway with the bench's settings, and the
 * probe of that process during the latency phase (CPU, event-loop delay, GC, when records reach the tail).
 */

/** Where the bench's topics are. */
export interface BenchKafka {
  readonly brokers: string[];
  readonly registryUrl: string;
  readonly prefix: string;
}

export interface ProbeOptions {
  /** Records stamped before this (ms) are not timed (the warm-up). */
  readonly from: number;
  /** File prefixes for an allocation or CPU profile of this process (`--set allocProfile=... cpuProfile=...`). */
  readonly allocProfile?: string | undefined;
  readonly cpuProfile?: string | undefined;
}

/** The server process during the latency phase. */
export interface ServerDiagnostics {
  readonly cpu: { readonly user: number; readonly system: number };
  readonly loopDelay: { readonly p99: number; readonly max: number };
  readonly gc: { readonly pauses: number; readonly longest: number; readonly total: number };
  /** Record time -> the gateway's tail has it (ms); no samples for the baseline. */
  readonly tail: { readonly samples: number; readonly p50: number; readonly p99: number; readonly max: number };
  readonly tailReads: { readonly reads: number; readonly empty: number };
}

export interface ServerProbe {
  start(options: ProbeOptions): Promise<void>;
  stop(): Promise<ServerDiagnostics>;
}

/**
 * Profiles this process during the latency phase: `allocations` samples every allocation, including objects
 * already collected (where GC work comes from); `cpu` samples the stacks.
 */
async function startProfile(kind: 'allocations' | 'cpu'): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
  if (kind === 'cpu') {
    await post('Profiler.enable');
    await post('Profiler.start');
  } else {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  return {
    stop: async (file) => {
      const { profile } = await post<{ profile: unknown }>(kind === 'cpu' ? 'Profiler.stop' : 'HeapProfiler.stopSampling');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** Tail timings a timed source collects (see timedSource). */
interface TailTimings {
  samples: number[];
  reads: number;
  empty: number;
  from: number;
}

/** The probe of this process; `label` names the profile files (`<prefix>.<label>.heapprofile`). */
export function probeThisProcess(label: string, tail: TailTimings = { samples: [], reads: 0, empty: 0, from: 0 }): ServerProbe {
  let running:
    | {
        loopDelay: ReturnType<typeof monitorEventLoopDelay>;
        gcPauses: number[];
        gcObserver: PerformanceObserver;
        cpuBefore: NodeJS.CpuUsage;
        allocations: { stop(file: string): Promise<void> } | undefined;
        cpuProfile: { stop(file: string): Promise<void> } | undefined;
        options: ProbeOptions;
      }
    | undefined;
  return {
    start: async (options) => {
      tail.samples.length = 0;
      tail.reads = 0;
      tail.empty = 0;
      tail.from = options.from;
      const loopDelay = monitorEventLoopDelay({ resolution: 1 });
      loopDelay.enable();
      const gcPauses: number[] = [];
      const gcObserver = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) gcPauses.push(entry.duration);
      });
      gcObserver.observe({ entryTypes: ['gc'] });
      const allocations = options.allocProfile ? await startProfile('allocations') : undefined;
      const cpuProfile = options.cpuProfile ? await startProfile('cpu') : undefined;
      running = { loopDelay, gcPauses, gcObserver, cpuBefore: process.cpuUsage(), allocations, cpuProfile, options };
    },
    stop: async () => {
      if (!running) throw new Error('the server probe was not started');
      const { loopDelay, gcPauses, gcObserver, cpuBefore, allocations, cpuProfile, options } = running;
      running = undefined;
      const cpu = process.cpuUsage(cpuBefore);
      loopDelay.disable();
      gcObserver.disconnect();
      if (allocations && options.allocProfile) await allocations.stop(`${options.allocProfile}.${label}.heapprofile`);
      if (cpuProfile && options.cpuProfile) await cpuProfile.stop(`${options.cpuProfile}.${label}.cpuprofile`);
      return {
        cpu,
        loopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        gc: {
          pauses: gcPauses.length,
          longest: Math.max(0, ...gcPauses),
          total: gcPauses.reduce((a, b) => a + b, 0),
        },
        tail: {
          samples: tail.samples.length,
          p50: percentile(tail.samples, 50),
          p99: percentile(tail.samples, 99),
          max: tail.samples.reduce((a, b) => Math.max(a, b), 0),
        },
        tailReads: { reads: tail.reads, empty: tail.empty },
      };
    },
  };
}

/** The gateway's own Kafka source, timing when each record reaches the tail (a diagnostic, not a figure of the goal). */
function timedSource(source: LogSource, tail: TailTimings): LogSource {
  return {
    describe: (topic) => source.describe(topic),
    bounds: (topic) => source.bounds(topic),
    offsetsForTime: (topic, timestampMs) => source.offsetsForTime(topic, timestampMs),
    read: async (info, from, options) => {
      const reads = await source.read(info, from, options);
      const now = Date.now();
      if (options.maxWaitMs > 0) {
        tail.reads += 1;
        let records = 0;
        for (const read of reads.values()) {
          records += read.events.length;
          for (const event of read.events) if (event.timestampMs >= tail.from) tail.samples.push(now - event.timestampMs);
        }
        if (records === 0) tail.empty += 1;
      }
      return reads;
    },
    close: () => source.close(),
  };
}

export interface BenchGateway {
  /** ws://host:port/ws */
  readonly url: string;
  /** The runtime and the uWS build that serves. */
  readonly runtime: { readonly node: string; readonly glibc: string | undefined; readonly build: string; readonly native: boolean };
  readonly probe: ServerProbe;
  stop(): Promise<void>;
}

/** The uWS gateway as the bench measures it: the patterns stream only, any token accepted, no PostgreSQL. */
export async function startBenchGateway(kafka: BenchKafka, settings: Readonly<Record<string, string>>): Promise<BenchGateway> {
  const tail: TailTimings = { samples: [], reads: 0, empty: 0, from: 0 };
  const source = timedSource(
    new KafkaLogSource(kafka.brokers, `bench-gateway-${Date.now()}`, avroDecoder(new AvroCodec(kafka.registryUrl, kafka.prefix))),
    tail,
  );
  const config = {
    ...loadGatewayConfig({}),
    GATEWAY_PORT: 0,
    GATEWAY_FRAMES_PER_SECOND: 1000,
    GATEWAY_FRAME_BURST: 1000,
    // The bench measures how many connections the gateway holds (10,000 at scale 1, plus its probes): the cap must not.
    GATEWAY_MAX_CONNECTIONS: 1_000_000,
    GATEWAY_HEARTBEAT_MS: 60_000,
    GATEWAY_POLL_WAIT_MS: Number(settings.pollWaitMs ?? 20),
  };
  const gateway = await startGateway({
    source,
    topicPrefix: kafka.prefix,
    brokers: kafka.brokers,
    registryUrl: kafka.registryUrl,
    kafkaClientId: 'bench-gateway',
    databaseUrl: null,
    // As before startGateway took explicit options: the defaults' Redis (no read model there: snapshots fold the rings).
    redisUrl: loadPlatformConfig({}).REDIS_URL,
    redisKeyPrefix: loadPlatformConfig({}).REDIS_KEY_PREFIX,
    streams: ['patterns'],
    logger: createLogger('bench-gateway', { level: 'warn' }),
    authenticator: { authenticate: async () => ({ userId: 'bench', via: 'token' }) },
    universes: { symbolsFor: async () => undefined },
    config,
  });
  // The build startGateway loaded (kept for the process): what this gateway serves on.
  const uws = loadUws({ allowEmulation: config.GATEWAY_ALLOW_WS_EMULATION });
  return {
    url: gateway.url,
    runtime: { node: uws.runtime.node, glibc: uws.runtime.glibc, build: uws.build, native: uws.native },
    probe: probeThisProcess('uws', tail),
    stop: async () => {
      await gateway.stop();
      await source.close();
    },
  };
}
