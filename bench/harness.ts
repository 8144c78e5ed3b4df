import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** One figure of a benchmark: name, value, unit; `baseline` marks figures of the comparison system. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: boolean;
  readonly note?: string;
}

export interface BenchOptions {
  /** Scale factor: 1 = the full benchmark; smaller for a quick run. */
  readonly scale: number;
  /** Free-form key=value options from `--set key=value`. */
  readonly settings: Readonly<Record<string, string>>;
}

export interface BenchSuite {
  readonly name: string;
  readonly description: string;
  /**
   * Left out of `bench all` (`npm run bench`): set for suites that take an hour at scale 1 or measure something other
   * than the pipeline's goals (the year of bars, the browser, the replication clusters). Run them by name.
   */
  readonly onlyByName?: boolean;
  /** The figures; the harness prints and stores them. */
  run(options: BenchOptions): Promise<Figure[]>;
}

function machineDescription(): string {
  const cpu = cpus();
  return `${cpu.length} cores (${cpu[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, shared and noisy`;
}

/** Prints a table and writes bench/results/<suite>.json. */
export function recordResults(suite: string, command: string, figures: readonly Figure[]): string {
  const rows = figures.map((figure) => [
    figure.baseline ? `${figure.name} (baseline)` : figure.name,
    formatValue(figure.value),
    figure.unit,
    figure.note ?? '',
  ]);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column]!.length), 4));
  console.log(`\n${suite}  —  ${command}\n${machineDescription()}`);
  for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${suite}.json`);
  writeFileSync(file, JSON.stringify({ suite, command, machine: machineDescription(), at: new Date().toISOString(), figures }, null, 2));
  return file;
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(4);
}

/** Percentile of a sorted or unsorted sample (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** A TCP port nothing listens on right now (for a server a bench starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
