import type { Command } from 'commander';

/** The projections stage's subcommands of the `tickflow` CLI. */
export function registerProjectionCommands(_program: Command): void {
  // Filled in by the projections issue.
}
