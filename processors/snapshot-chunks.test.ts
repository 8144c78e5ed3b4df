import { describe, expect, it } from 'vitest';
import { SnapshotChunkTable, parseChunkKey, splitSnapshot } from './snapshot-chunks.js';

describe('snapshot chunks', () => {
  it('splits a state into bounded chunks and joins the newest complete set', () => {
    const state = Buffer.from('abcdefghij');
    const chunks = splitSnapshot('g/t/3', state, 4);
    expect(chunks.map((chunk) => chunk.key)).toEqual(['g/t/3/0of3', 'g/t/3/1of3', 'g/t/3/2of3']);
    expect(chunks.map((chunk) => chunk.state.toString())).toEqual(['abcd', 'efgh', 'ij']);
    const table = new SnapshotChunkTable<{ nextOffset: number; state: Buffer; partition: number }>();
    for (const chunk of chunks) table.put(chunk.key, { nextOffset: 100, state: chunk.state, partition: 3 });
    expect(table.latest('g/t/3')).toMatchObject({ nextOffset: 100, partition: 3 });
    expect(table.latest('g/t/3')!.state.toString()).toBe('abcdefghij');
    // A newer, smaller snapshot wins once complete; leftovers of the older set are ignored.
    const newer = splitSnapshot('g/t/3', Buffer.from('xyz'), 4);
    table.put(newer[0]!.key, { nextOffset: 200, state: newer[0]!.state, partition: 3 });
    expect(table.latest('g/t/3')!.state.toString()).toBe('xyz');
    // An incomplete newer set does not hide the older complete one.
    table.put('g/t/3/0of2', { nextOffset: 300, state: Buffer.from('12'), partition: 3 });
    expect(table.latest('g/t/3')!.nextOffset).toBe(200);
    expect(table.latest('g/t/9')).toBeUndefined();
  });

  it('ignores foreign keys and rejects a bad chunk size', () => {
    expect(parseChunkKey('g/t/3')).toBeUndefined();
    expect(parseChunkKey('g/t/3/2of2')).toBeUndefined();
    expect(parseChunkKey('g/t/3/1of2')).toEqual({ baseKey: 'g/t/3', index: 1, count: 2 });
    const table = new SnapshotChunkTable<{ nextOffset: number; state: Buffer }>();
    table.put('legacy-key', { nextOffset: 1, state: Buffer.alloc(0) });
    expect(table.latest('legacy-key')).toBeUndefined();
    expect(() => splitSnapshot('k', Buffer.alloc(1), 0)).toThrow(/positive/);
    expect(splitSnapshot('k', Buffer.alloc(0), 10)).toHaveLength(1);
  });
});
