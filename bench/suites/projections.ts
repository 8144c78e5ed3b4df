import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BenchSuite, Figure } from '../harness.js';
import { createLogger } from '../../platform/logger.js';
import { topicName } from '../../platform/topics.js';
import { createTestDatabase } from '../../test/postgres.js';
import { barRow, copySql, patternEventRow, stagedLine, stagingDdl } from '../../projections/core.js';
import { minuteBars, patternEvents, FIXTURE_SYMBOLS } from '../../projections/fixtures.js';
import { migrate } from '../../projections/migrate.js';
import { PgBatchWriter, type PreparedMessage } from '../../projections/pg-writer.js';
import { startProjector } from '../../projections/projector.js';
import { createTopicsRetrying, endOffsets, offsetsReached, produce } from '../../projections/testing.js';

const logger = createLogger('bench-projections', { level: 'silent' });

async function writeAll(writer: PgBatchWriter, table: 'pattern_events' | 'bars_1m', messages: PreparedMessage[], batchSize: number): Promise<number> {
  const started = performance.now();
  let believed: number | undefined;
  for (let start = 0; start < messages.length; start += batchSize) {
    const outcome = await writer.write({ table, topic: `bench.${table}`, partition: 0, messages: messages.slice(start, start + batchSize), believed });
    if (outcome.action !== 'apply') throw new Error('the bench writer was asked to seek');
    believed = outcome.nextOffset;
  }
  return (performance.now() - started) / 1000;
}

/**
 * Projections: rows/s through COPY into PostgreSQL (COPY alone, and COPY + fold + offsets in one transaction per
 * batch, as the projector does), and events/s from Kafka into the tables end to end.
 */
const suite: BenchSuite = {
  name: 'projections',
  description: 'rows/s through COPY into PostgreSQL, and pattern events/s end to end from Kafka (goal: 100k rows/s)',
  async run({ scale, settings }) {
    const rows = Math.max(1000, Math.round(Number(settings.rows ?? 200_000) * scale));
    const kafkaEvents = Math.max(1000, Math.round(Number(settings.events ?? 50_000) * scale));
    const batchSize = Number(settings.batch ?? 20_000);
    const figures: Figure[] = [];
    const db = await createTestDatabase('bench_projections');
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    try {
      await migrate(db.url);
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
        figures.push({ name: 'COPY into staging (pattern events, 25 columns)', value: rows / seconds, unit: 'rows/s', note: `${rows} rows in ${seconds.toFixed(2)} s` });
      } finally {
        client.release();
      }

      // 2. The projector's batch transaction: COPY + INSERT ... ON CONFLICT into pattern_events and patterns + offsets.
      const writer = new PgBatchWriter(pool, { projection: 'bench' });
      const eventSeconds = await writeAll(writer, 'pattern_events', eventMessages, batchSize);
      figures.push({ name: 'COPY + fold + offsets (pattern_events + patterns)', value: rows / eventSeconds, unit: 'rows/s', note: `${rows} events, batches of ${batchSize}` });

      const perSymbol = Math.ceil(rows / FIXTURE_SYMBOLS.length);
      const bars = minuteBars(FIXTURE_SYMBOLS, perSymbol).slice(0, rows);
      const barMessages: PreparedMessage[] = bars.map((value, offset) => ({ offset, kind: 'row', row: barRow(value, 'MINUTE') }));
      const barSeconds = await writeAll(writer, 'bars_1m', barMessages, batchSize);
      figures.push({ name: 'COPY + upsert + offsets (bars_1m, partitioned)', value: rows / barSeconds, unit: 'rows/s', note: `${rows} minute bars, batches of ${batchSize}` });
    } finally {
      await pool.end();
    }

    // 3. End to end: events already in Kafka -> projector -> tables, until the stored offsets reach the log end.
    const topics = await createTopicsRetrying('benchproj', ['patterns']);
    const e2eDb = await createTestDatabase('bench_projections_e2e');
    const e2ePool = new pg.Pool({ connectionString: e2eDb.url, max: 1 });
    try {
      await migrate(e2eDb.url);
      const events = patternEvents(kafkaEvents, 98);
      await produce(topics.kafka, topics.codec, topics.prefix, 'patterns', events.map((event) => ({ key: event.symbol, value: event })));
      const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix)]);
      const started = performance.now();
      const projector = await startProjector({
        databaseUrl: e2eDb.url,
        brokers: topics.brokers,
        registryUrl: topics.registryUrl,
        topicPrefix: topics.prefix,
        projections: ['patterns'],
        logger,
      });
      try {
        // Wait on the condition (no fixed sleep): poll the stored offsets.
        while (!(await offsetsReached(e2ePool, 'patterns', ends))) await new Promise((resolve) => setTimeout(resolve, 50));
        const seconds = (performance.now() - started) / 1000;
        figures.push({
          name: 'Kafka -> PostgreSQL end to end (pattern events)',
          value: kafkaEvents / seconds,
          unit: 'events/s',
          note: `${kafkaEvents} events over 6 partitions, from projector start (incl. group join) to offsets at log end`,
        });
      } finally {
        await projector.stop();
      }
    } finally {
      await e2ePool.end();
      await Promise.all([topics.cleanup(), e2eDb.drop(), db.drop()]);
    }
    return figures;
  },
};

export default suite;
