import { Option, type Command } from 'commander';
import { replay } from './replay.js';

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('stream a topic decoded through the registry, as JSON lines or CSV, to stdout or a file')
    .requiredOption('--topic <topic>', 'catalog key (patterns, trades, minuteAggregates, ...) or topic name')
    .option('--from <bound>', 'earliest | latest | offset | partition:offset,... | ISO-8601 time', 'earliest')
    .option('--to <bound>', 'same forms as --from (offsets inclusive); latest is the end of the log when the replay starts', 'latest')
    .option('--symbols <list>', 'comma-separated symbols to keep')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (options: { topic: string; from: string; to: string; symbols?: string; format: 'jsonl' | 'csv'; out?: string }) => {
      const { records } = await replay({
        topic: options.topic,
        from: options.from,
        to: options.to,
        symbols:
          options.symbols
            ?.split(',')
            .map((symbol) => symbol.trim())
            .filter(Boolean) ?? [],
        format: options.format,
        ...(options.out === undefined ? {} : { out: options.out }),
        progress: process.stderr.isTTY === true && (options.out !== undefined || process.stdout.isTTY !== true),
      });
      if (options.out) console.error(`${records} records written to ${options.out}`);
    });
}
