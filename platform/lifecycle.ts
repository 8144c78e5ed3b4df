import type { Logger } from './logger.js';

export type ShutdownHook = () => Promise<void> | void;

/**
 * The `onStall` of a stage's CLI: a stage that cannot go on (a consumer kafkajs will not restart, Kafka acknowledging
 * nothing) exits at once with code 75, without the orderly stop that could hang on the same stall, and its
 * supervisor restarts it.
 */
export function exitForRestart(logger: Logger): (reason: string) => void {
  return (reason) => {
    logger.fatal({ reason }, 'exiting for a restart');
    process.exit(75);
  };
}

/** Set to 1 by the supervisor of `tickflow start` in each stage's environment. */
export const SUPERVISED_ENV = 'TICKFLOW_SUPERVISED';

/**
 * Ordered shutdown: hooks run in reverse order of registration (last started, first stopped),
 * each bounded by a timeout so that one stuck close cannot hold the process forever.
 */
export class Lifecycle {
  private readonly hooks: { name: string; hook: ShutdownHook }[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly hookTimeoutMs = 10_000,
    /** Between the stop signal and the first hook: /ready already answers 503 (isStopping), work still runs. */
    private readonly drainDelayMs = 0,
  ) {}

  onShutdown(name: string, hook: ShutdownHook): void {
    this.hooks.push({ name, hook });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Runs every hook once; later calls return the same promise. */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= this.runHooks(reason);
    return this.stopping;
  }

  private async runHooks(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    if (this.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.drainDelayMs));
    for (const { name, hook } of [...this.hooks].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.hookTimeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve(hook()).then(() => 'done' as const), timeout]);
        if (outcome === 'timeout') this.logger.warn({ hook: name }, 'shutdown hook timed out');
      } catch (error) {
        this.logger.error({ hook: name, err: error }, 'shutdown hook failed');
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger.info('stopped');
  }

  /** SIGTERM and SIGINT stop the process cleanly; a second signal exits at once. */
  installSignalHandlers(exit: (code: number) => void = (code) => process.exit(code)): void {
    let signals = 0;
    const handler = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        this.logger.warn({ signal }, 'second signal, exiting now');
        exit(130);
        return;
      }
      void this.shutdown(signal).then(() => exit(0));
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    this.followSupervisor(exit);
  }

  /**
   * A stage run by `tickflow start` sits in its own process group (so a terminal's Ctrl-C reaches only the
   * supervisor), with an IPC channel to the supervisor. If the supervisor dies without stopping it (SIGKILL, a
   * crash), the channel closes: stop too, rather than run on orphaned, holding ports and consumer-group seats.
   * Only under the supervisor (SUPERVISED_ENV): other parents' channels (a test runner's worker) are theirs.
   */
  private followSupervisor(exit: (code: number) => void): void {
    if (process.env[SUPERVISED_ENV] !== '1' || !process.channel) return;
    process.channel.unref(); // the channel alone must not keep a stopped stage alive
    process.once('disconnect', () => {
      if (this.isStopping) return;
      void this.shutdown('supervisor gone').then(() => exit(0));
    });
  }
}
