/**
 * Prints the figures of the last chaos run (<CHAOS_LOG_DIR>/figures.jsonl) as Markdown tables for RELIABILITY.md:
 * `npx tsx chaos/report.ts [scale]`. The latest figure of each case wins (only figures of that CHAOS_SCALE when given).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadChaosConfig } from './config.js';

type Row = Record<string, unknown> & { suite: string; case: string };

const rows = readFileSync(join(loadChaosConfig().CHAOS_LOG_DIR, 'figures.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim().length > 0)
  .map((line) => JSON.parse(line) as Row)
  .filter((row) => process.argv[2] === undefined || row.scale === Number(process.argv[2]));
const latest = new Map<string, Row>();
for (const row of rows) latest.set(`${row.suite}\u0000${row.case}`, row);

const faults = [...latest.values()].filter((row) => row.suite === 'faults' && row.topicEvents !== undefined);
if (faults.length > 0) {
  console.log(
    '| fault | input records | pattern events on topic | table: missing / dup / extra | Redis: symbols, missing / dup / extra | client: events, missing / dup / out of order / mismatched | stage restarts | outcome |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of faults) {
    const restarts = Array.isArray(row.stageRestarts)
      ? row.stageRestarts.join(' ')
      : row.restarts !== undefined
        ? String(row.restarts)
        : '';
    console.log(
      `| ${row.case} | ${row.inputRecords} | ${row.topicEvents} (dup ${row.topicDuplicates}) | ${row.tableMissing} / ${row.tableDuplicates} / ${row.tableExtra} | ${row.redisSymbolsChecked}, ${row.redisMissing} / ${row.redisDuplicates} / ${row.redisExtra} | ${row.clientEvents}, ${row.clientMissing} / ${row.clientDuplicates} / ${row.clientOutOfOrder} / ${row.clientMismatched} | ${restarts} | ${row.outcome} |`,
    );
  }
  console.log('');
}
const others = [...latest.values()].filter((row) => !faults.includes(row));
console.log('| suite | case | figures | outcome |');
console.log('|---|---|---|---|');
for (const row of others) {
  const { suite, case: name, outcome, at: _at, scale: _scale, ...figures } = row;
  const text = Object.entries(figures)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(' ') : String(value)}`)
    .join(', ');
  console.log(`| ${suite} | ${name} | ${text} | ${String(outcome)} |`);
}
