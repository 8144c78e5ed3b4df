import { describe, expect, it } from 'vitest';
import { IngestCore } from './core.js';

const NOW = 1_700_000_000_000;
const trade = (sym: string, q: number) => ({ ev: 'T', sym, x: 4, i: String(q), z: 3, p: 10, s: 100, t: NOW, q });

describe('IngestCore', () => {
  it('turns a mixed frame into records, status items and dead letters, in order', () => {
    const core = new IngestCore({ source: 'massive' });
    const frame = JSON.stringify([
      { ev: 'status', status: 'success', message: 'subscribed to: T.*' },
      trade('AAPL', 1),
      { ev: 'NOI', sym: 'AAPL' },
      trade('MSFT', 1),
    ]);
    const outcome = core.processFrame(frame, NOW);
    expect(outcome.statuses).toEqual([{ ev: 'status', status: 'success', message: 'subscribed to: T.*' }]);
    expect(outcome.records.map((record) => [record.topic, record.key])).toEqual([
      ['trades', 'AAPL'],
      ['trades', 'MSFT'],
    ]);
    expect(outcome.itemsIn).toBe(3);
    expect(outcome.deadLetters).toHaveLength(1);
    const letter = outcome.deadLetters[0]!;
    expect(letter.key).toBe('AAPL');
    expect(letter.value).toMatchObject({ stage: 'ingest', source: 'massive', reason: 'unknown event type "NOI"', receivedAtMs: NOW });
    expect(JSON.parse(letter.value.rawPayload.toString('utf8'))).toEqual({ ev: 'NOI', sym: 'AAPL' });
  });

  it('dead-letters a garbage frame whole, keyed by the source, and keeps going', () => {
    const core = new IngestCore({ source: 'massive' });
    const garbage = core.processFrame('[{"ev":"T", oops', NOW);
    expect(garbage.records).toEqual([]);
    expect(garbage.deadLetters[0]!.key).toBe('massive');
    expect(garbage.deadLetters[0]!.value.rawPayload.toString()).toBe('[{"ev":"T", oops');
    expect(garbage.deadLetters[0]!.value.reason).toMatch(/not JSON/);
    expect(core.processFrame(JSON.stringify([trade('AAPL', 1)]), NOW).records).toHaveLength(1);
  });

  it('drops repeated events (same channel, symbol, sequence) and counts them', () => {
    const core = new IngestCore({ source: 'massive' });
    core.processItems([trade('AAPL', 1), trade('AAPL', 2)], NOW);
    const again = core.processItems([trade('AAPL', 2), trade('AAPL', 3), trade('MSFT', 2)], NOW);
    expect(again.duplicates).toBe(1);
    expect(again.records.map((record) => `${record.key}:${(record.value as { sequence: number }).sequence}`)).toEqual(['AAPL:3', 'MSFT:2']);
  });

  it('skips channels that are not enabled', () => {
    const core = new IngestCore({ source: 'massive', channels: new Set(['T']) });
    const outcome = core.processItems([{ ev: 'FMV', sym: 'AAPL', fmv: 1, t: NOW * 1e6 }, trade('AAPL', 1)], NOW);
    expect(outcome.records.map((record) => record.topic)).toEqual(['trades']);
    expect(core.source).toBe('massive');
  });

  it('keeps a payload that cannot be stringified as text', () => {
    const core = new IngestCore({ source: 'file' });
    const cyclic: Record<string, unknown> = { ev: 'T' };
    cyclic.self = cyclic;
    const outcome = core.processItems([cyclic, 42n], NOW);
    expect(outcome.deadLetters.map((letter) => letter.value.rawPayload.toString())).toEqual(['[object Object]', '42']);
  });
});

describe('IngestCore memory', () => {
  it('a flood of distinct unknown symbols keeps the duplicate filter at its caps', () => {
    const core = new IngestCore({ source: 'massive', dedup: { windowPerKey: 16, maxKeys: 200 } });
    for (let frame = 0; frame < 100; frame += 1)
      core.processFrame(JSON.stringify(Array.from({ length: 50 }, (_, index) => trade(`FLOOD${frame * 50 + index}`, 1))), NOW);
    const [keys, sequences] = core.trackedStructures();
    expect(keys!.entries()).toBe(200);
    expect(keys!.cap).toBe(200);
    expect(sequences!.entries()).toBeLessThanOrEqual(200 * 16);
    expect(sequences!.cap).toBe(200 * 16);
  });
});
