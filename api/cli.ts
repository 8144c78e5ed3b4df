import type { Command } from 'commander';

/** The api stage's subcommands of the `tickflow` CLI. */
export function registerApiCommands(_program: Command): void {
  // Filled in by the api issue.
}
