import { highWatermarks, partitionKey, type Admin } from '../platform/index.js';
import type { ProjectionLag } from './context.js';
import { readProjectionOffsets } from '../store/projection-offsets.js';
import type { Queryable } from '../store/queryable.js';

/** Records the projections have yet to apply: Kafka end offsets minus the projections' stored offsets, summed. */
export async function measureProjectionLag(db: Queryable, admin: Admin): Promise<ProjectionLag> {
  const rows = await readProjectionOffsets(db);
  const topics = [...new Set(rows.map((row) => row.topic))];
  const ends = await highWatermarks(admin, topics);
  let records = 0;
  for (const row of rows) records += Math.max(0, (ends.get(partitionKey(row.topic, row.partition)) ?? 0) - row.nextOffset);
  return { records, partitions: rows.length };
}
