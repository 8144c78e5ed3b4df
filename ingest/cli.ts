import type { Command } from 'commander';

/** The ingest stage's subcommands of the `tickflow` CLI. */
export function registerIngestCommands(_program: Command): void {
  // Filled in by the ingest issue.
}
