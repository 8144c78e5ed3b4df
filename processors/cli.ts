import type { Command } from 'commander';

/** The processors stage's subcommands of the `tickflow` CLI. */
export function registerProcessorCommands(_program: Command): void {
  // Filled in by the processors issue.
}
