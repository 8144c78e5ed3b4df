import type { Command } from 'commander';

/** The gateway stage's subcommands of the `tickflow` CLI. */
export function registerGatewayCommands(_program: Command): void {
  // Filled in by the gateway issue.
}
