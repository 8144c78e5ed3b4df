import { CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError } from '../platform/config.js';

/** The exit codes of `tickflow` (README, `tickflow --help`). */
export const EXIT = {
  ok: 0,
  /** A runtime failure: a server unreachable, a command that failed. */
  failure: 1,
  /** Usage or configuration: an invalid argument, option or env value, or a runtime the gateway refuses; retrying as is will not help. */
  usage: 2,
  /** A stage that cannot go on asks its supervisor for a restart. */
  restart: 75,
  /** Interrupted (a second Ctrl-C, or SIGINT while stopping). */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    success
  1    runtime failure (a server unreachable, a command that failed)
  2    invalid argument, option or environment value (the message names it), or a runtime the gateway refuses
  75   a stage asks its supervisor to restart it
  130  interrupted`;

/** What the top-level handler prints and exits with for an error thrown by a command. */
export function describeFailure(error: unknown): { code: number; message: string | undefined } {
  // Thrown by a command's own checks (commander's parse errors arrive as plain CommanderErrors, already printed).
  if (error instanceof InvalidArgumentError) return { code: EXIT.usage, message: `tickflow: ${error.message}` };
  if (error instanceof CommanderError) {
    // Commander printed its own one-line message already (help and --version exit 0 this way too).
    return { code: error.exitCode === 0 ? EXIT.ok : EXIT.usage, message: undefined };
  }
  if (error instanceof ConfigError) return { code: EXIT.usage, message: `tickflow: invalid configuration: ${error.issues.join('; ')}` };
  // By name: importing the gateway here would load the stage for every command.
  if (error instanceof Error && error.name === 'UwsUnavailableError') return { code: EXIT.usage, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: EXIT.failure, message: `tickflow: ${message}` };
}

/** `tickflow config | head -1`: the reader went away; end quietly, as Unix tools do. */
export function isBrokenPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}
