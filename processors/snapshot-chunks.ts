/**
 * Engine state can outgrow one Kafka record (1 MB by default), so a snapshot is written as n chunks
 * keyed `<group>/<topic>/<partition>/<i>of<n>`, all in the transaction that commits its offsets. The
 * latest snapshot of a partition is the one with the highest `nextOffset` whose n chunks are all present.
 */

export interface SnapshotChunk {
  readonly key: string;
  readonly index: number;
  readonly count: number;
  readonly state: Buffer;
}

/** The chunks of a state, each at most `maxBytes`. */
export function splitSnapshot(baseKey: string, state: Buffer, maxBytes: number): SnapshotChunk[] {
  if (maxBytes <= 0) throw new Error('maxBytes must be positive');
  const count = Math.max(1, Math.ceil(state.length / maxBytes));
  return Array.from({ length: count }, (_, index) => ({
    key: `${baseKey}/${index}of${count}`,
    index,
    count,
    state: state.subarray(index * maxBytes, Math.min(state.length, (index + 1) * maxBytes)),
  }));
}

/** Splits a record key into its partition key and chunk position; undefined for a foreign key. */
export function parseChunkKey(key: string): { baseKey: string; index: number; count: number } | undefined {
  const match = /^(.*)\/(\d+)of(\d+)$/.exec(key);
  if (!match) return undefined;
  const index = Number(match[2]);
  const count = Number(match[3]);
  if (count < 1 || index >= count) return undefined;
  return { baseKey: match[1]!, index, count };
}

interface StoredChunk {
  readonly nextOffset: number;
  readonly state: Buffer;
}

/** The chunks read so far (latest value per record key, as compaction keeps them). */
export class SnapshotChunkTable<Meta extends { nextOffset: number; state: Buffer }> {
  private readonly chunks = new Map<string, Map<string, Meta & StoredChunk>>();

  put(key: string, value: Meta): void {
    const parsed = parseChunkKey(key);
    if (!parsed) return;
    let byKey = this.chunks.get(parsed.baseKey);
    if (!byKey) this.chunks.set(parsed.baseKey, (byKey = new Map()));
    byKey.set(key, value);
  }

  /** The newest complete snapshot of a partition, its chunks joined; undefined when none. */
  latest(baseKey: string): Meta | undefined {
    const byKey = this.chunks.get(baseKey);
    if (!byKey) return undefined;
    const sets = new Map<string, { count: number; parts: Map<number, Meta> }>();
    for (const [key, value] of byKey) {
      const { index, count } = parseChunkKey(key)!;
      const setKey = `${value.nextOffset}/${count}`;
      let set = sets.get(setKey);
      if (!set) sets.set(setKey, (set = { count, parts: new Map() }));
      set.parts.set(index, value);
    }
    let best: Meta | undefined;
    for (const { count, parts } of sets.values()) {
      if (parts.size !== count) continue;
      const first = parts.get(0)!;
      if (best !== undefined && best.nextOffset >= first.nextOffset) continue;
      const state = Buffer.concat(Array.from({ length: count }, (_, index) => parts.get(index)!.state));
      best = { ...first, state };
    }
    return best;
  }
}
