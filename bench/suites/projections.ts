import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchOptions, BenchSuite, Figure } from '../harness.js';
import { benchDatabases, pathFigures, timescaleMode } from '../databases.js';
import { createLogger } from '../../platform/logger.js';
import { topicName } from '../../platform/topics.js';
import { createTestDatabase, type TestServer } from '../../test/postgres.js';
import { barRow, copySql, DB_PROJECTIONS, patternEventRow, stagedLine, stagingDdl } from '../../projections/core.js';
import { minuteBars, patternEvents, FIXTURE_SYMBOLS } from '../../test/record-fixtures.js';
import { migrate } from '../../store/migrate.js';
import { PgBatchWriter, type PreparedMessage } from '../../projections/pg-writer.js';
import { startProjector } from '../../projections/projector.js';
import { endOffsets, offsetsReached, produce, type ProducedMessage } from '../../projections/testing.js';
import { createTopicsRetrying } from '../../test/kafka.js';

const logger = createLogger('bench-projections', { level: 'silent' });

/** Minute bars spread over many symbols (and so over every partition), as the feed produces them. */
const BENCH_SYMBOLS = Array.from({ length: 500 }, (_, index) => `B${String(index).padStart(3, '0')}`);

/**
 * Values already in Kafka -> one projection of a fresh projector -> its tables: the rate from projector start
 * (group join included) until its stored offsets reach the log end.
 */
async function endToEnd(
  database: TestServer,
  topicKey: 'patterns' | 'minuteAggregates',
  projection: 'patterns' | 'bars',
  messages: ProducedMessage[],
  what: string,
): Promise<Figure> {
  const topics = await createTopicsRetrying('benchproj', DB_PROJECTIONS[projection].topics);
  const db = await createTestDatabase('bench_projections_e2e', database);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  // end() resolves before the server closed the backend; past the drop's grace, its FORCE may terminate it late.
  pool.on('error', () => {});
  try {
    await migrate(db.url, { timescale: timescaleMode(database) });
    await produce(topics.kafka, topics.codec, topics.prefix, topicKey, messages);
    const ends = await endOffsets(topics.kafka, [topicName(topicKey, topics.prefix)]);
    const started = performance.now();
    const projector = await startProjector({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      projections: [projection],
      logger,
    });
    try {
      // Wait on the condition (no fixed sleep): poll the stored offsets.
      while (!(await offsetsReached(pool, projection, ends))) await new Promise((resolve) => setTimeout(resolve, 50));
      const seconds = (performance.now() - started) / 1000;
      const partitions = ends.get(topicName(topicKey, topics.prefix))?.size ?? 0;
      return {
        name: `Kafka -> PostgreSQL end to end (${what})`,
        value: messages.length / seconds,
        unit: 'events/s',
        note: `${messages.length} ${what} over ${partitions} partitions, from projector start (incl. group join) to offsets at log end`,
      };
    } finally {
      await projector.stop();
    }
  } finally {
    await pool.end();
    await Promise.all([topics.cleanup(), db.drop()]);
  }
}

async function writeAll(
  writer: PgBatchWriter,
  table: 'pattern_events' | 'bars_1m',
  messages: PreparedMessage[],
  batchSize: number,
): Promise<number> {
  const started = performance.now();
  let believed: number | undefined;
  for (let start = 0; start < messages.length; start += batchSize) {
    const outcome = await writer.write({
      table,
      topic: `bench.${table}`,
      partition: 0,
      messages: messages.slice(start, start + batchSize),
      believed,
    });
    if (outcome.action !== 'apply') throw new Error('the bench writer was asked to seek');
    believed = outcome.nextOffset;
  }
  return (performance.now() - started) / 1000;
}

/**
 * Projections: rows/s through COPY into PostgreSQL (COPY alone, and COPY + fold + offsets in one transaction per
 * batch, as the projector does), and events/s from Kafka into the tables end to end.
 */
/** One run of the projections bench against one storage path's server. */
async function runOn(database: TestServer, { scale, settings }: BenchOptions): Promise<Figure[]> {
  const rows = Math.max(1000, Math.round(Number(settings.rows ?? 200_000) * scale));
  const kafkaEvents = Math.max(1000, Math.round(Number(settings.events ?? 50_000) * scale));
  const batchSize = Number(settings.batch ?? 20_000);
  const figures: Figure[] = [];
  const db = await createTestDatabase('bench_projections', database);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  try {
    await migrate(db.url, { timescale: timescaleMode(database) });
    const events = patternEvents(rows, 99);
    const eventMessages: PreparedMessage[] = events.map((event, offset) => ({
      offset,
      kind: 'row',
      row: patternEventRow(event, { topic: 'bench', partition: 0, offset }),
    }));

    // 1. COPY alone into the staging table (one transaction).
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(stagingDdl('pattern_events'));
      const started = performance.now();
      const lines = function* () {
        for (let start = 0; start < eventMessages.length; start += 2000) {
          yield eventMessages
            .slice(start, start + 2000)
            .map((message) => (message.kind === 'row' ? stagedLine(message.row, message.offset) : ''))
            .join('');
        }
      };
      await pipeline(Readable.from(lines()), client.query(copyFrom(copySql('pattern_events'))));
      const seconds = (performance.now() - started) / 1000;
      await client.query('COMMIT');
      figures.push({
        name: 'COPY into staging (pattern events, 25 columns)',
        value: rows / seconds,
        unit: 'rows/s',
        note: `${rows} rows in ${seconds.toFixed(2)} s`,
      });
    } finally {
      client.release();
    }

    // 2. The projector's batch transaction: COPY + INSERT ... ON CONFLICT into pattern_events and patterns + offsets.
    const writer = new PgBatchWriter(pool, { projection: 'bench' });
    const eventSeconds = await writeAll(writer, 'pattern_events', eventMessages, batchSize);
    figures.push({
      name: 'COPY + fold + offsets (pattern_events + patterns)',
      value: rows / eventSeconds,
      unit: 'rows/s',
      note: `${rows} events, batches of ${batchSize}`,
    });

    const perSymbol = Math.ceil(rows / FIXTURE_SYMBOLS.length);
    const bars = minuteBars(FIXTURE_SYMBOLS, perSymbol).slice(0, rows);
    const barMessages: PreparedMessage[] = bars.map((value, offset) => ({ offset, kind: 'row', row: barRow(value, 'MINUTE') }));
    const barSeconds = await writeAll(writer, 'bars_1m', barMessages, batchSize);
    figures.push({
      name: `COPY + upsert + offsets (bars_1m, ${database === 'timescale' ? 'hypertable' : 'partitioned'})`,
      value: rows / barSeconds,
      unit: 'rows/s',
      note: `${rows} minute bars, batches of ${batchSize}`,
    });
  } finally {
    await pool.end();
    await db.drop();
  }

  // 3. End to end: values already in Kafka -> projector -> tables, until the stored offsets reach the log end.
  const kafkaBars = Math.max(1000, Math.round(Number(settings.bars ?? 100_000) * scale));
  const events = patternEvents(kafkaEvents, 98);
  figures.push(
    await endToEnd(
      database,
      'patterns',
      'patterns',
      events.map((event) => ({ key: event.symbol, value: event })),
      'pattern events',
    ),
  );
  const barsPerSymbol = Math.ceil(kafkaBars / BENCH_SYMBOLS.length);
  const bars = minuteBars(BENCH_SYMBOLS, barsPerSymbol).slice(0, kafkaBars);
  figures.push(
    await endToEnd(
      database,
      'minuteAggregates',
      'bars',
      bars.map((value) => ({ key: value.symbol, value })),
      'minute bars',
    ),
  );
  return figures;
}

const suite: BenchSuite = {
  name: 'projections',
  description:
    'rows/s through COPY into plain PostgreSQL and into TimescaleDB hypertables (--set db=plain|timescale for one), and pattern events/s and minute bars/s end to end from Kafka (goal: 100k rows/s)',
  async run(options) {
    // Both storage paths in one run (`--set db=plain|timescale` for one), each figure named with its path.
    const figures: Figure[] = [];
    for (const database of benchDatabases(options.settings)) figures.push(...pathFigures(database, await runOn(database, options)));
    return figures;
  },
};

export default suite;
