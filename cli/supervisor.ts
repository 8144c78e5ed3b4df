import { EXIT } from './exit-codes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_RESTART_POLICY,
  formatLogLine,
  ratePerSecond,
  restartDelay,
  statusLine,
  type RestartPolicy,
  type StageSample,
} from './supervisor-core.js';
import { SUPERVISED_ENV } from '../platform/lifecycle.js';
import { sumMetric, type MetricSelector } from '../platform/metrics-exposition.js';

const binPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'tickflow.js');

export interface StageSpec {
  readonly name: string;
  /** `tickflow` subcommand and its arguments. */
  readonly args: readonly string[];
  /** Run this program instead of `tickflow` (args are passed to it). */
  readonly program?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Where the stage serves Prometheus metrics (for the status line). */
  readonly metricsUrl?: string;
  readonly eventsMetrics?: readonly MetricSelector[];
  readonly lagMetrics?: readonly MetricSelector[];
  readonly patternsMetrics?: readonly MetricSelector[];
  /** Input the stage dropped by design (shown next to the events when nonzero). */
  readonly skippedMetrics?: readonly MetricSelector[];
  /**
   * What the stage's first start waits for (ingest: its feed answering), so that a normal start logs no connection
   * failure. Restarts do not wait. If the wait fails, the stage starts anyway and its own retries and logs take over.
   */
  readonly startsAfter?: () => Promise<void>;
}

interface RunningStage {
  readonly spec: StageSpec;
  child: ChildProcess | undefined;
  startedAt: number;
  consecutiveCrashes: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  lastEvents: number | undefined;
  lastSkipped: number | undefined;
}

export type Print = (line: string) => void;

/**
 * Runs each stage as a child process (`node bin/tickflow.js <args>`), prefixes its output, restarts it
 * with backoff when it crashes (and says so), and stops them all, last first, on stop().
 */
export class Supervisor {
  private readonly stages: RunningStage[];
  private stopping = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastSampleAt = Date.now();
  private statusShown = false;
  /**
   * Called when a stage exits with 2 (its configuration or runtime is refused: cli/exit-codes.ts). Restarting
   * cannot help, so it is not restarted.
   */
  onRefusal: ((stage: string) => void) | undefined;

  constructor(
    specs: readonly StageSpec[],
    private readonly print: Print = (line) => console.log(line),
    private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {
    this.stages = specs.map((spec) => ({
      spec,
      child: undefined,
      startedAt: 0,
      consecutiveCrashes: 0,
      restarts: 0,
      restartTimer: undefined,
      lastEvents: undefined,
      lastSkipped: undefined,
    }));
  }

  /** Runs a one-shot `tickflow` command (e.g. migrations) and resolves when it exits 0. */
  static runOnce(name: string, args: readonly string[], print: Print = (line) => console.log(line)): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [binPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout, child.stderr])
        createInterface({ input: stream }).on('line', (line) => print(formatLogLine(name, line)));
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with code ${code}`))));
    });
  }

  start(): void {
    for (const stage of this.stages) {
      const { startsAfter } = stage.spec;
      if (!startsAfter) this.launch(stage);
      else
        void startsAfter()
          .catch(() => undefined)
          .then(() => {
            if (!this.stopping) this.launch(stage);
          });
    }
  }

  private output(line: string): void {
    if (this.statusShown) {
      process.stdout.write('\x1b[2K\r');
      this.statusShown = false;
    }
    this.print(line);
  }

  private launch(stage: RunningStage): void {
    stage.restartTimer = undefined;
    stage.startedAt = Date.now();
    const command = stage.spec.program
      ? ([stage.spec.program, stage.spec.args] as const)
      : ([process.execPath, [binPath, ...stage.spec.args]] as const);
    const child = spawn(command[0], [...command[1]], {
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the stages in order.
      // An IPC channel too, which closes if the supervisor dies: a stage then stops itself (platform Lifecycle).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...this.baseEnv, ...stage.spec.env, [SUPERVISED_ENV]: '1' },
    });
    stage.child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.output(formatLogLine(stage.spec.name, line)));
    }
    child.once('exit', (code, signal) => {
      stage.child = undefined;
      if (this.stopping) return;
      if (code === EXIT.usage) {
        this.output(formatLogLine('supervisor', `${stage.spec.name} refused to start (exit 2, its reason above); not restarting it`));
        this.onRefusal?.(stage.spec.name);
        return;
      }
      const uptime = Date.now() - stage.startedAt;
      const next = restartDelay(this.policy, stage.consecutiveCrashes, uptime);
      stage.consecutiveCrashes = next.consecutiveCrashes;
      stage.restarts += 1;
      this.output(
        formatLogLine(
          'supervisor',
          `${stage.spec.name} crashed (${signal ?? `exit ${code}`}) after ${(uptime / 1000).toFixed(1)} s; restart #${stage.restarts} in ${next.delayMs} ms`,
        ),
      );
      stage.restartTimer = setTimeout(() => this.launch(stage), next.delayMs);
    });
  }

  /** Process ids by stage (for tests and the soak's sampling). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.stages.map((stage) => [stage.spec.name, stage.child?.pid]));
  }

  restarts(name: string): number {
    return this.stages.find((stage) => stage.spec.name === name)?.restarts ?? 0;
  }

  /** Samples each stage's metrics endpoint. */
  async sample(): Promise<StageSample[]> {
    return Promise.all(
      this.stages.map(async (stage): Promise<StageSample> => {
        if (!stage.child) return { stage: stage.spec.name, up: false };
        if (!stage.spec.metricsUrl) return { stage: stage.spec.name, up: true };
        try {
          const text = await (await fetch(stage.spec.metricsUrl, { signal: AbortSignal.timeout(1000) })).text();
          const pick = (names: readonly MetricSelector[] | undefined) => (names ? sumMetric(text, names) : undefined);
          const events = pick(stage.spec.eventsMetrics);
          const lag = pick(stage.spec.lagMetrics);
          const patterns = pick(stage.spec.patternsMetrics);
          const skipped = pick(stage.spec.skippedMetrics);
          return {
            stage: stage.spec.name,
            up: true,
            ...(events === undefined ? {} : { events }),
            ...(lag === undefined ? {} : { lag }),
            ...(patterns === undefined ? {} : { patterns }),
            ...(skipped === undefined ? {} : { skipped }),
          };
        } catch {
          return { stage: stage.spec.name, up: true };
        }
      }),
    );
  }

  /** Keeps a live status line (rewritten in place on a terminal, printed every 10 s otherwise). */
  showStatus(intervalMs = 2000, lagProvider?: () => Promise<ReadonlyMap<string, number>>): void {
    const tty = process.stdout.isTTY === true;
    let ticks = 0;
    this.statusTimer = setInterval(() => {
      const lags = lagProvider ? lagProvider().catch(() => new Map<string, number>()) : Promise.resolve(new Map<string, number>());
      void Promise.all([this.sample(), lags]).then(([sampled, lag]) => {
        const samples = sampled.map((sample) => (lag.has(sample.stage) && sample.up ? { ...sample, lag: lag.get(sample.stage)! } : sample));
        const now = Date.now();
        const rates = new Map<string, number | undefined>();
        for (const sample of samples) {
          const stage = this.stages.find((entry) => entry.spec.name === sample.stage)!;
          rates.set(sample.stage, ratePerSecond(stage.lastEvents, sample.events, now - this.lastSampleAt));
          stage.lastEvents = sample.events;
          rates.set(`${sample.stage}:skipped`, ratePerSecond(stage.lastSkipped, sample.skipped, now - this.lastSampleAt));
          stage.lastSkipped = sample.skipped;
        }
        this.lastSampleAt = now;
        const line = statusLine(samples, rates);
        ticks += 1;
        if (tty) {
          process.stdout.write(`\x1b[2K\r${line}`);
          this.statusShown = true;
        } else if (ticks % Math.max(1, Math.round(10_000 / intervalMs)) === 0) this.print(formatLogLine('status', line));
      });
    }, intervalMs);
  }

  /** SIGTERM to every stage, last started first; SIGKILL after the grace period. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    if (this.statusTimer) clearInterval(this.statusTimer);
    for (const stage of [...this.stages].reverse()) {
      if (stage.restartTimer) clearTimeout(stage.restartTimer);
      const child = stage.child;
      if (!child) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      this.output(formatLogLine('supervisor', `${stage.spec.name} stopped`));
    }
  }
}
