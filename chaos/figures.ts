import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadChaosConfig } from './config.js';

/** One outcome of the suite (a fault injected or a batch of bad inputs), kept for RELIABILITY.md. */
export interface Figure {
  readonly suite: string;
  readonly case: string;
  readonly [field: string]: string | number | boolean | null | readonly (string | number)[];
}

/** Appends a figure to <CHAOS_LOG_DIR>/figures.jsonl (one JSON object per line) and prints it. */
export function recordFigure(figure: Figure): void {
  const dir = loadChaosConfig().CHAOS_LOG_DIR;
  mkdirSync(dir, { recursive: true });
  const line = JSON.stringify({ at: new Date().toISOString(), scale: loadChaosConfig().CHAOS_SCALE, ...figure });
  appendFileSync(join(dir, 'figures.jsonl'), `${line}\n`);
  console.log(`[chaos] ${line}`);
}
