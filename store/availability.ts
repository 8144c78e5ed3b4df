import type { Logger } from '../platform/logger.js';

/**
 * SQLSTATE classes and codes that mean the server (not the statement) failed: connection exceptions (08),
 * operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now: starting up or in
 * recovery) and 53300 too many connections. A retry on a new connection can succeed once the server is back.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** Socket-level failures of a connection to the server. */
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What node-postgres says when the connection went away under it (it sets no code). */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
  /^Client was closed and is not queryable/,
];

/**
 * Whether an error from node-postgres means the database is unreachable (down, restarting, connection lost) rather
 * than that a statement failed: such work is retried on a new connection; any other error is the caller's to handle.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') || UNAVAILABLE_SOCKET_CODES.has(code)))
    return true;
  if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(error.message))) return true;
  // AggregateError (a host resolving to several addresses) and wrapped errors: the cause decides.
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return error.cause !== undefined && error.cause !== error && isDatabaseUnavailable(error.cause);
}

/**
 * Whether the database is down, as the work that needs it last found: shared by every writer of a process, so the
 * outage is logged at WARN once when it starts and at INFO once when it ends, and /ready can report it.
 */
export class DatabaseOutage {
  private since: number | undefined;
  private lastError: string | undefined;
  /** Outages begun so far: what `begin` marks a piece of work with. */
  private outages = 0;

  constructor(
    private readonly logger: Logger,
    private readonly options: {
      /** Called once when an outage ends (the server may have lost its last commits: callers re-read their state). */
      readonly onRecovered?: () => void;
      readonly now?: () => number;
    } = {},
  ) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** A piece of work starts: the mark to report its success with (`succeeded`). */
  begin(): number {
    return this.outages;
  }

  /** The database failed a piece of work: the first failure of an outage logs WARN. */
  failed(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    if (this.since !== undefined) return;
    this.since = this.now();
    this.outages += 1;
    this.logger.warn({ err: error }, 'PostgreSQL is unreachable: batches are retried with backoff until it is back (nothing is skipped)');
  }

  /**
   * A piece of work marked `begun` (by `begin`) succeeded: ends the outage, if any, when the work began during it.
   * Work already under way when the outage began proves nothing about the server now: its last answer may have been
   * read after the server died (or a failure after it swallowed, as a batch's post-commit refresh does), and ending
   * the outage on it logged a second WARN at the next failure of the same outage.
   */
  succeeded(begun: number): void {
    if (this.since === undefined || begun < this.outages) return;
    this.logger.info({ downMs: this.now() - this.since }, 'PostgreSQL is reachable again; batches resume');
    this.since = undefined;
    this.lastError = undefined;
    this.options.onRecovered?.();
  }

  get down(): boolean {
    return this.since !== undefined;
  }

  /** Throws while the database is down (a readiness check). */
  check(): { down: false } {
    if (this.since !== undefined)
      throw new Error(`PostgreSQL unreachable for ${Math.round((this.now() - this.since) / 1000)} s: ${this.lastError ?? 'unknown error'}`);
    return { down: false };
  }
}
