import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchOptions, BenchSuite, Figure } from '../harness.js';
import { freePort, percentile } from '../harness.js';
import { benchDatabases, pathFigures, timescaleMode } from '../databases.js';
import {
  benchSymbols,
  compareReads,
  dailyBucketMs,
  fingerprintOf,
  minutesOf,
  readOrder,
  sessionsOfYear,
  SyntheticBars,
  type BarsFingerprint,
  VWAP_RELATIVE_TOLERANCE,
} from '../year-of-bars.js';
import { SessionCalendar } from '../../contracts/calendar.js';
import { listBars, type BarResolution } from '../../api/symbols-store.js';
import { migrate } from '../../store/migrate.js';
import { LateRowRefresher } from '../../projections/late-refresh.js';
import { createLogger } from '../../platform/logger.js';
import { TimescaleCluster, type TestServer } from '../../test/postgres.js';

/** The API's largest `limit` for bars: one read returns the whole year of 1h and 1d bars. */
const WHOLE_YEAR_LIMIT = 50_000;
/** The API's default `limit`: the latest 1000 minute bars of the year (from compressed chunks once compressed). */
const MINUTE_LIMIT = 1000;
const MIB = 2 ** 20;

/**
 * A PostgreSQL 15 cluster of the bench's own for one path (TimescaleDB preloaded or not, the same binaries and
 * settings on both, as the restart test runs them): the shared servers cannot be restarted, and a restart is the one
 * way to empty PostgreSQL's buffers before a first-touch read.
 */
class BenchCluster {
  private constructor(
    private readonly cluster: TimescaleCluster,
    private readonly stateDir: string,
    private readonly preload: boolean,
  ) {}

  static async start(server: TestServer): Promise<BenchCluster> {
    const stateDir = mkdtempSync(join(tmpdir(), 'tickflow-bench-bars-'));
    chmodSync(stateDir, 0o755);
    const cluster = new TimescaleCluster(stateDir, { ...process.env, STACK_TIMESCALE_PORT: String(await freePort()) });
    const preload = server === 'timescale';
    if (preload && !cluster.extensionInstalled())
      throw new Error('the TimescaleDB extension is not installed on this machine: run `npx tickflow stack up` first (it builds it once)');
    const own = new BenchCluster(cluster, stateDir, preload);
    try {
      await cluster.start(() => {}, { preload });
      const admin = new pg.Client({ connectionString: cluster.url() });
      await admin.connect();
      try {
        // Fewer checkpoints while seeding some GB: the same on both paths.
        await admin.query(`ALTER SYSTEM SET max_wal_size = '8GB'`);
        await admin.query('SELECT pg_reload_conf()');
        await admin.query('CREATE DATABASE tickflow');
      } finally {
        await admin.end();
      }
    } catch (error) {
      own.close();
      throw error;
    }
    return own;
  }

  get url(): string {
    return this.cluster.url('tickflow');
  }

  /** Stops (fast: checkpoint) and starts the server: its shared buffers start empty. */
  async restart(): Promise<void> {
    this.cluster.stop(() => {}, 'fast');
    await this.cluster.start(() => {}, { preload: this.preload });
  }

  close(): void {
    try {
      this.cluster.stop(() => {}, 'immediate');
    } finally {
      rmSync(this.stateDir, { recursive: true, force: true });
    }
  }
}

/**
 * Empties the OS page cache (`sync`, then `3 > /proc/sys/vm/drop_caches`; needs root). Returns false where that is
 * not allowed: reads are then cold in PostgreSQL's buffers only.
 */
function dropOsCache(): boolean {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

interface ReadSample {
  readonly ms: number[];
  readonly rows: number[];
  /** Each symbol's bars, to compare with another read (vwap within a tolerance: see BarsFingerprint). */
  readonly bars: Map<string, BarsFingerprint>;
  /** Blocks PostgreSQL read from the OS (or the disk) and found in its buffers, over the sample. */
  readonly blocksRead: number;
  readonly blocksHit: number;
}

interface BarRead {
  readonly interval: BarResolution;
  readonly limit: number;
  readonly what: string;
}

const READS: readonly BarRead[] = [
  { interval: '1h', limit: WHOLE_YEAR_LIMIT, what: '1h bars of the year' },
  { interval: '1d', limit: WHOLE_YEAR_LIMIT, what: '1d bars of the year' },
  { interval: '1m', limit: MINUTE_LIMIT, what: 'latest 1000 1m bars of the year' },
];

async function blockCounters(client: pg.Client): Promise<{ read: number; hit: number }> {
  // The statistics of this backend reach pg_stat_database when flushed: force it so the counters are current.
  await client.query('SELECT pg_stat_force_next_flush()');
  await client.query('SELECT 1');
  const { rows } = await client.query<{ read: string; hit: string }>(
    'SELECT blks_read AS read, blks_hit AS hit FROM pg_stat_database WHERE datname = current_database()',
  );
  return { read: Number(rows[0]!.read), hit: Number(rows[0]!.hit) };
}

/** Each symbol's bars read once, in `symbols` order, the API's query (`listBars`) over the year's range. */
async function readEach(url: string, symbols: readonly string[], read: BarRead, range: { from: number; to: number }): Promise<ReadSample> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const before = await blockCounters(client);
    const ms: number[] = [];
    const rows: number[] = [];
    const fingerprints = new Map<string, BarsFingerprint>();
    for (const symbol of symbols) {
      const started = performance.now();
      const bars = await listBars(client, symbol, read.interval, range.from, range.to, read.limit);
      ms.push(performance.now() - started);
      rows.push(bars.length);
      fingerprints.set(symbol, fingerprintOf(bars));
    }
    const after = await blockCounters(client);
    return { ms, rows, bars: fingerprints, blocksRead: after.read - before.read, blocksHit: after.hit - before.hit };
  } finally {
    await client.end();
  }
}

function latencyFigures(name: string, sample: ReadSample, note: string): Figure[] {
  const rows = sample.rows.length ? `${Math.min(...sample.rows)}-${Math.max(...sample.rows)} bars a read` : '';
  return [
    { name: `${name} p50`, value: percentile(sample.ms, 50), unit: 'ms', note: `${sample.ms.length} reads, ${rows}; ${note}` },
    { name: `${name} p95`, value: percentile(sample.ms, 95), unit: 'ms' },
    {
      name: `${name} blocks read from the OS`,
      value: sample.blocksRead,
      unit: 'blocks',
      note: `${sample.blocksHit} found in shared buffers (${((100 * sample.blocksHit) / Math.max(1, sample.blocksHit + sample.blocksRead)).toFixed(1)} % hits)`,
    },
  ];
}

/** COPY text into a table, one COPY per piece of the generator (a session's bars), on one connection. */
async function copyInto(client: pg.Client, table: string, lines: Iterable<string>): Promise<void> {
  await pipeline(
    Readable.from(lines),
    client.query(copyFrom(`COPY ${table} (symbol, bucket, open, high, low, close, volume, vwap, transactions) FROM STDIN`)),
  );
}

interface SizeRow {
  readonly relation: string;
  readonly table: number;
  readonly indexes: number;
}

/** Heap (with TOAST) and index bytes of each bar relation: partitions summed on the plain path, chunks on TimescaleDB. */
async function barSizes(client: pg.Client, timescale: boolean): Promise<SizeRow[]> {
  if (timescale) {
    const { rows } = await client.query<{ relation: string; table: string; indexes: string }>(
      `SELECT h AS relation, (s).table_bytes + (s).toast_bytes AS table, (s).index_bytes AS indexes
         FROM (SELECT h, hypertable_detailed_size(h::regclass) AS s FROM unnest(ARRAY['bars_1m', 'bars_1d']) AS h) sizes
       UNION ALL
       SELECT view_name, (s).table_bytes + (s).toast_bytes, (s).index_bytes
         FROM (SELECT view_name, hypertable_detailed_size(format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)::regclass) AS s
                 FROM timescaledb_information.continuous_aggregates WHERE view_name LIKE 'bars%') aggregates`,
    );
    return rows.map((row) => ({ relation: row.relation, table: Number(row.table), indexes: Number(row.indexes) }));
  }
  const { rows } = await client.query<{ relation: string; table: string; indexes: string }>(
    `SELECT root AS relation, sum(pg_table_size(relid)) AS table, sum(pg_indexes_size(relid)) AS indexes
       FROM unnest(ARRAY['bars_1m', 'bars_1d']) AS root, pg_partition_tree(root::regclass) WHERE isleaf GROUP BY root`,
  );
  return rows.map((row) => ({ relation: row.relation, table: Number(row.table), indexes: Number(row.indexes) }));
}

function sizeFigures(sizes: readonly SizeRow[], when: string): Figure[] {
  return sizes.map((size) => ({
    name: `disk: ${size.relation}${when}`,
    value: (size.table + size.indexes) / MIB,
    unit: 'MiB',
    note: `table ${(size.table / MIB).toFixed(0)} MiB + indexes ${(size.indexes / MIB).toFixed(0)} MiB`,
  }));
}

/** The figures of one path: seed, sizes, reads (cold each, first touch, warm), and on TimescaleDB compression. */
async function runOn(server: TestServer, options: BenchOptions, readsByPath: Map<string, Map<string, BarsFingerprint>>): Promise<Figure[]> {
  const { scale, settings } = options;
  const symbols = benchSymbols(Math.max(2, Math.round(Number(settings.symbols ?? 500) * scale)));
  const sessions = sessionsOfYear(new SessionCalendar(), Date.now(), settings.sessions ? Number(settings.sessions) : undefined);
  const coldEach = Math.max(0, Number(settings.coldReads ?? 5));
  const dropCaches = settings.dropCaches !== 'off';
  const timescale = server === 'timescale';
  const range = { from: sessions[0]!.openMs - 86_400_000, to: sessions.at(-1)!.closeMs + 86_400_000 };
  const figures: Figure[] = [];
  // Each figure is printed as it is taken: a full-scale run is long, and one stopped early keeps what it measured.
  const runStarted = performance.now();
  const record = (...taken: Figure[]) => {
    figures.push(...taken);
    for (const figure of taken)
      console.log(
        `[bars-year ${server} +${((performance.now() - runStarted) / 1000).toFixed(0)} s] ${figure.name}: ${figure.value} ${figure.unit}`,
      );
  };
  const cluster = await BenchCluster.start(server);
  try {
    await migrate(cluster.url, { timescale: timescaleMode(server), warn: () => {} });
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      // The policies' background jobs would compress, drop or refresh while the bench measures: it does each itself.
      if (timescale)
        await client.query('SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE job_id >= 1000');

      // 1. Seed: COPY straight into bars_1m (its primary key and bucket index in place), one COPY per session.
      const bars = new SyntheticBars(symbols);
      const daily: string[] = [];
      const started = performance.now();
      console.log(`[bars-year ${server}] seeding ${symbols.length} symbols x ${sessions.length} sessions of minute bars`);
      for (const session of sessions) {
        await copyInto(client, 'bars_1m', bars.session(session));
        daily.push(bars.dailyLines(session, dailyBucketMs(session)));
      }
      const seedSeconds = (performance.now() - started) / 1000;
      const rows = symbols.length * minutesOf(sessions);
      record({
        name: 'seed: COPY into bars_1m (indexes in place)',
        value: rows / seedSeconds,
        unit: 'rows/s',
        note: `${rows.toLocaleString('en-US')} minute bars = ${symbols.length} symbols x ${sessions.length} sessions (${sessions[0]!.date}..${sessions.at(-1)!.date}) in ${seedSeconds.toFixed(0)} s`,
      });
      await copyInto(client, 'bars_1d', daily);
      await client.query('ANALYZE bars_1m');
      await client.query('ANALYZE bars_1d');

      // 2. TimescaleDB: materialize the 5m/15m/1h aggregates over the year (the refresh policy covers 3 days only).
      if (timescale) {
        const views = (settings.aggregates ?? 'bars_5m,bars_15m,bars_1h').split(',');
        for (const view of views) {
          const refreshStarted = performance.now();
          await client.query(`CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)`, [
            view,
            new Date(range.from),
            new Date(range.to),
          ]);
          record({ name: `refresh ${view} over the year`, value: (performance.now() - refreshStarted) / 1000, unit: 's' });
        }
      }
      // 3. A late write: one session in the middle of the year rewritten (a correction, a replay), on both paths so
      // that they keep the same bars. On TimescaleDB it lies below the aggregates' watermark: the projector then
      // refreshes their window before it announces the batch (projections/late-refresh.ts); its cost, as it runs it.
      const rewritten = sessions[Math.floor(sessions.length / 2)]!;
      const update = await client.query('UPDATE bars_1m SET volume = volume + 1 WHERE bucket >= $1 AND bucket < $2', [
        new Date(rewritten.openMs),
        new Date(rewritten.closeMs),
      ]);
      if (timescale) {
        const refresher = new LateRowRefresher(client, { logger: createLogger('bench-bars-year', { level: 'warn' }) });
        const lateStarted = performance.now();
        await refresher.afterCommit('bars_1m', { earliestMs: rewritten.openMs, latestMs: rewritten.closeMs - 60_000 });
        record({
          name: 'late write: aggregates refreshed after one session rewritten below their watermark',
          value: (performance.now() - lateStarted) / 1000,
          unit: 's',
          note: `${(update.rowCount ?? 0).toLocaleString('en-US')} minute bars of ${rewritten.date} (UPDATE), then the projector's refresh of the materialized aggregates (${(settings.aggregates ?? 'bars_5m,bars_15m,bars_1h').replaceAll(',', ', ')}) over that day`,
        });
      }
      await client.query('CHECKPOINT');
      record(...sizeFigures(await barSizes(client, timescale), timescale ? ' (uncompressed)' : ''));
    } finally {
      await client.end();
    }

    // 4. Reads. Cold each: restart + OS cache dropped before every read (a handful). First touch: one restart + drop,
    // then every symbol once in a shuffled order (a symbol's read may find pages an earlier one brought in: minute
    // bars of one minute share a page). Warm: every symbol again.
    const order = readOrder(symbols);
    const coldNote = (dropped: boolean) =>
      dropped ? 'after a server restart and an OS page-cache drop' : 'after a server restart (OS cache NOT dropped: not allowed here)';
    const readAll = async (label: string, compressed: boolean) => {
      for (const read of READS) {
        if (compressed && read.interval === '1h' && timescale) continue; // the aggregate's own hypertable is not compressed
        const coldMs: number[] = [];
        let dropped = true;
        for (const symbol of order.slice(0, coldEach)) {
          await cluster.restart();
          dropped = dropCaches && dropOsCache() && dropped;
          coldMs.push(...(await readEach(cluster.url, [symbol], read, range)).ms);
        }
        if (coldEach > 0)
          record(
            {
              name: `${read.what}${label}: cold read p50`,
              value: percentile(coldMs, 50),
              unit: 'ms',
              note: `${coldEach} reads, each ${coldNote(dropped)}`,
            },
            { name: `${read.what}${label}: cold read max`, value: Math.max(...coldMs), unit: 'ms' },
          );
        await cluster.restart();
        dropped = dropCaches && dropOsCache();
        const first = await readEach(cluster.url, order, read, range);
        record(...latencyFigures(`${read.what}${label}: first touch`, first, `each symbol once, ${coldNote(dropped)} at the start`));
        const warm = await readEach(cluster.url, order, read, range);
        record(...latencyFigures(`${read.what}${label}: warm`, warm, 'the same reads again'));
        const again = compareReads(first.bars, warm.bars);
        if (again.differing.length > 0)
          throw new Error(`${server}: ${read.what} differ between two reads for ${again.differing.slice(0, 5).join(', ')}`);
        const key = `${read.interval}${label}`;
        readsByPath.set(`${server} ${key}`, first.bars);
      }
    };
    await readAll('', false);

    // 5. TimescaleDB: compress every chunk of bars_1m and bars_1d (segment by symbol, newest first), measure again,
    // and check that the reads return the very same bars as before compression.
    if (timescale) {
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      try {
        const started = performance.now();
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(compress_chunk(chunk, if_not_compressed => true))::int AS n
             FROM (SELECT show_chunks('bars_1m') AS chunk UNION ALL SELECT show_chunks('bars_1d')) chunks`,
        );
        record({
          name: 'compress every chunk of bars_1m and bars_1d',
          value: (performance.now() - started) / 1000,
          unit: 's',
          note: `${rows[0]!.n} chunks`,
        });
        await admin.query('ANALYZE bars_1m');
        await admin.query('ANALYZE bars_1d');
        await admin.query('CHECKPOINT');
        record(
          ...sizeFigures(
            (await barSizes(admin, true)).filter((size) => size.relation === 'bars_1m' || size.relation === 'bars_1d'),
            ' (compressed)',
          ),
        );
        const stats = await admin.query<{ before: string; after: string }>(
          `SELECT before_compression_total_bytes AS before, after_compression_total_bytes AS after FROM hypertable_compression_stats('bars_1m')`,
        );
        const ratio = Number(stats.rows[0]!.before) / Number(stats.rows[0]!.after);
        record({ name: 'compression ratio of bars_1m (hypertable_compression_stats)', value: ratio, unit: 'x' });
      } finally {
        await admin.end();
      }
      await readAll(' (compressed)', true);
      for (const read of READS) {
        if (read.interval === '1h') continue;
        const before = readsByPath.get(`${server} ${read.interval}`)!;
        const { differing } = compareReads(before, readsByPath.get(`${server} ${read.interval} (compressed)`)!);
        if (differing.length > 0)
          throw new Error(`${read.what}: compressed chunks return other bars for ${differing.slice(0, 5).join(', ')}`);
        record({ name: `${read.what}: same bars before and after compression`, value: before.size, unit: 'symbols' });
      }
    }
  } finally {
    cluster.close();
  }
  return figures;
}

/** Both paths in one run; where both ran, their reads must return the same bars (the aggregates = the plain views). */
function samePathResults(readsByPath: Map<string, Map<string, BarsFingerprint>>): Figure[] {
  const figures: Figure[] = [];
  for (const read of READS) {
    const plain = readsByPath.get(`plain ${read.interval}`);
    const timescale = readsByPath.get(`timescale ${read.interval}`);
    if (!plain || !timescale) continue;
    const { differing, largestVwapDifference } = compareReads(plain, timescale);
    if (differing.length > 0) throw new Error(`${read.what}: the two paths return other bars for ${differing.slice(0, 5).join(', ')}`);
    figures.push(
      { name: `${read.what}: same bars on both paths`, value: plain.size, unit: 'symbols' },
      {
        name: `${read.what}: largest relative vwap difference between the paths`,
        value: largestVwapDifference,
        unit: '',
        note: `float sums added in other orders; tolerated up to ${VWAP_RELATIVE_TOLERANCE}`,
      },
    );
  }
  return figures;
}

const suite: BenchSuite = {
  name: 'bars-year',
  onlyByName: true,
  description:
    "a year of minute bars (the calendar's sessions x 390) for 500 symbols on each path, in clusters of the bench's own: first-touch 1h/1d/1m bar reads (continuous aggregates vs plain views), disk size with and without compression, the aggregates' refresh after a late write (--scale shrinks the symbols, --set sessions=N the span)",
  async run(options) {
    const figures: Figure[] = [];
    const readsByPath = new Map<string, Map<string, BarsFingerprint>>();
    for (const database of benchDatabases(options.settings))
      figures.push(...pathFigures(database, await runOn(database, options, readsByPath)));
    figures.push(...samePathResults(readsByPath));
    return figures;
  },
};

export default suite;
