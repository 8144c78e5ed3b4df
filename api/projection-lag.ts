import type { Admin } from '../platform/index.js';
import type { ProjectionLag } from './context.js';
import type { Queryable } from './universes.js';

/** Records the projections have yet to apply: Kafka end offsets minus projection_offsets, summed. */
export async function measureProjectionLag(db: Queryable, admin: Admin): Promise<ProjectionLag> {
  const { rows } = await db.query<{ topic: string; partition: number; next_offset: string }>(
    'SELECT topic, partition, next_offset FROM projection_offsets',
  );
  const topics = [...new Set(rows.map((row) => row.topic))];
  const ends = new Map<string, number>();
  await Promise.all(
    topics.map(async (topic) => {
      for (const entry of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${entry.partition}`, Number(entry.high));
    }),
  );
  let records = 0;
  for (const row of rows) records += Math.max(0, (ends.get(`${row.topic}:${row.partition}`) ?? 0) - Number(row.next_offset));
  return { records, partitions: rows.length };
}
