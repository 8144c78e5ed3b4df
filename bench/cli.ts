import type { Command } from 'commander';

/** The bench stage's subcommands of the `tickflow` CLI. */
export function registerBenchCommands(_program: Command): void {
  // Filled in by the bench issue.
}
