import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may hold secrets. Redaction happens inside pino, so a token passed by mistake
 * in a log object never reaches the output.
 */
const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'apiKey',
  '*.apiKey',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'params',
];

export interface LoggerOptions {
  readonly level?: string;
  /** A destination stream (tests capture output through it). */
  readonly destination?: NodeJS.WritableStream;
}

/** One structured JSON logger per process; `stage` names the component in every line. */
export function createLogger(stage: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const settings = {
    level,
    base: { stage, pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Synchronous writes to stdout. pino's default asynchronous destination flushes at exit in a loop that
  // retries a broken pipe forever: a stage whose supervisor died (its stdout pipe gone) hung in `process.exit`.
  // A synchronous destination gets EPIPE on the write itself, and pino then drops further lines. Hot paths log
  // at debug, so info-level lines are few.
  return pino(settings, options.destination ?? pino.destination({ dest: 1, sync: true }));
}
