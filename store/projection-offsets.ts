import type { Queryable } from './queryable.js';

/**
 * Reads of `projection_offsets` (migration projections/1795600000000): the next Kafka offset each projection will
 * apply, per topic partition. The projector writes them in the transaction of the rows they cover
 * (projections/pg-writer.ts); other readers (the API's projection lag, tests waiting for the projector) read them here.
 */
export interface StoredOffset {
  readonly projection: string;
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
}

/** Every stored offset, or those of one projection. */
export async function readProjectionOffsets(db: Queryable, projection?: string): Promise<StoredOffset[]> {
  const { rows } = await db.query<{ projection: string; topic: string; partition: number; next_offset: string }>(
    projection === undefined
      ? 'SELECT projection, topic, partition, next_offset FROM projection_offsets'
      : 'SELECT projection, topic, partition, next_offset FROM projection_offsets WHERE projection = $1',
    projection === undefined ? [] : [projection],
  );
  return rows.map((row) => ({
    projection: row.projection,
    topic: row.topic,
    partition: row.partition,
    nextOffset: Number(row.next_offset),
  }));
}
