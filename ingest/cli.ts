import { InvalidArgumentError, Option, type Command } from 'commander';
import { portArgument } from '../platform/cli-args.js';
import { requireExplicitInProduction } from '../platform/deployment.js';
import { loadIngestConfig } from './config.js';

const positiveNumber = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive number');
  return parsed;
};

const list = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** The ingest stage's subcommands of the `tickflow` CLI. */
export function registerIngestCommands(program: Command): void {
  program
    .command('ingest')
    .description('feed Kafka: live Massive or the embedded simulator (long-running), or a flat-file / REST backfill (runs to completion)')
    .addOption(
      new Option('--source <source>', 'where the events come from').env('INGEST_SOURCE').choices(['massive', 'simulator', 'file', 'rest']),
    )
    .addOption(
      new Option('--speed <n>', 'simulator: simulated seconds per real second (60 = a minute bar per second)')
        .env('SIMULATOR_SPEED')
        .argParser(positiveNumber),
    )
    .addOption(new Option('--rate <n>', 'simulator: trades + quotes per second').env('SIMULATOR_RATE').argParser(positiveNumber))
    .option('--record <file>', 'live: append every received frame to this file (replay with `tickflow simulator --replay`)')
    .option('--path <files...>', 'file: Massive CSV or CSV.gz flat files (minute_aggs_v1, day_aggs_v1, trades_v1)')
    .addOption(new Option('--interval <interval>', 'file: bar interval when the path does not say').choices(['minute', 'day']))
    .addOption(new Option('--what <what>', 'rest: what to backfill').choices(['bars', 'symbols', 'fundamentals']).default('bars'))
    .option('--symbols <list>', 'rest: comma-separated tickers', list, [] as string[])
    .addOption(new Option('--timespan <timespan>', 'rest bars: minute or day').choices(['minute', 'day']).default('day'))
    .option('--from <date>', 'rest bars: first day, YYYY-MM-DD')
    .option('--to <date>', 'rest bars: last day, YYYY-MM-DD')
    .option('--details', "rest symbols: also fetch each ticker's details (market cap, SIC, shares)", false)
    .option('--max-tickers <n>', 'rest symbols: stop after this many', positiveNumber)
    .action(
      async (flags: {
        source?: 'massive' | 'simulator' | 'file' | 'rest';
        speed?: number;
        rate?: number;
        record?: string;
        path?: string[];
        interval?: 'minute' | 'day';
        what: 'bars' | 'symbols' | 'fundamentals';
        symbols: string[];
        timespan: 'minute' | 'day';
        from?: string;
        to?: string;
        details: boolean;
        maxTickers?: number;
      }) => {
        // In production the simulator is never a silent default: the source must be named.
        if (flags.source === undefined) requireExplicitInProduction(process.env, 'INGEST_SOURCE', 'massive or simulator, or --source');
        const source = flags.source ?? loadIngestConfig().INGEST_SOURCE;
        // The stage is imported when it runs, so `tickflow --help` loads none of it.
        const { runFileImport, runLiveIngest, runRestBackfill } = await import('./main.js');
        if (source === 'file') {
          if (!flags.path || flags.path.length === 0) throw new InvalidArgumentError('--path is required with --source file');
          const summaries = await runFileImport(
            flags.path,
            flags.interval === 'day' ? 'DAY' : flags.interval === 'minute' ? 'MINUTE' : undefined,
          );
          console.log(JSON.stringify(summaries));
          return;
        }
        if (source === 'rest') {
          // Usage errors (exit 2) before any connection; runRestBackfill keeps its own checks for other callers.
          if (flags.what !== 'symbols' && flags.symbols.length === 0)
            throw new InvalidArgumentError(`--symbols is required with --what ${flags.what}`);
          if (flags.what === 'bars' && (!flags.from || !flags.to))
            throw new InvalidArgumentError('--from and --to (YYYY-MM-DD) are required with --what bars');
          const summary = await runRestBackfill({
            what: flags.what,
            symbols: flags.symbols,
            timespan: flags.timespan,
            from: flags.from,
            to: flags.to,
            details: flags.details,
            maxTickers: flags.maxTickers,
          });
          console.log(JSON.stringify(summary));
          return;
        }
        await runLiveIngest({ source, speed: flags.speed, rate: flags.rate, record: flags.record });
      },
    );

  program
    .command('simulator')
    .description('run the Massive-protocol simulator alone: ws://127.0.0.1:8765/stocks (also /health, /metrics)')
    .addOption(new Option('--port <port>', 'listen port').env('SIMULATOR_PORT').argParser(portArgument))
    .addOption(
      new Option('--speed <n>', 'simulated seconds per real second (60 = a minute bar per second)')
        .env('SIMULATOR_SPEED')
        .argParser(positiveNumber),
    )
    .addOption(new Option('--rate <n>', 'trades + quotes per second').env('SIMULATOR_RATE').argParser(positiveNumber))
    .addOption(
      new Option('--symbol-count <n>', 'universe size: how many tickers to simulate').env('SIMULATOR_SYMBOLS').argParser(positiveNumber),
    )
    .option('--replay <file>', 'play a recording (JSON lines of frames or events) at --speed')
    .action(async ({ symbolCount, ...flags }: { port?: number; speed?: number; rate?: number; symbolCount?: number; replay?: string }) => {
      const { runSimulator } = await import('./main.js');
      await runSimulator({ ...flags, ...(symbolCount !== undefined ? { symbols: symbolCount } : {}) });
    });
}
