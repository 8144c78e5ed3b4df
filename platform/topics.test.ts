import { describe, expect, it } from 'vitest';
import { parse as parseAvro } from 'avsc';
import { readSchemaId, WireFormatError } from './codec.js';
import { isBroadcastCopy, BROADCAST_COPY_HEADER } from './broadcast.js';
import { HISTORY_RETENTION_MS, schemaText, TOPIC_KEYS, TOPICS, topicConfigEntries, topicName, valueSubject } from './topics.js';

describe('topic catalog', () => {
  it('has a valid Avro schema for every topic', () => {
    for (const key of TOPIC_KEYS) {
      expect(() => parseAvro(JSON.parse(schemaText(key)))).not.toThrow();
    }
  });

  it('co-partitions the symbol-keyed market and pattern topics', () => {
    const counts = new Set(
      ['trades', 'quotes', 'secondAggregates', 'minuteAggregates', 'dailyAggregates', 'fundamentals', 'patterns'].map(
        (key) => TOPICS[key as keyof typeof TOPICS].partitions,
      ),
    );
    expect(counts.size).toBe(1);
  });

  it('compacts reference data and snapshots, and deletes by retention elsewhere', () => {
    expect(topicConfigEntries(TOPICS.symbols)).toContainEqual({ name: 'cleanup.policy', value: 'compact' });
    expect(topicConfigEntries(TOPICS.processorSnapshots)).toContainEqual({ name: 'cleanup.policy', value: 'compact' });
    expect(topicConfigEntries(TOPICS.trades)).toEqual([
      { name: 'cleanup.policy', value: 'delete' },
      { name: 'retention.ms', value: String(7 * 24 * 3600 * 1000) },
    ]);
  });

  it('prefixes names and derives value subjects', () => {
    expect(topicName('patterns', 'test.x.')).toBe('test.x.patterns.events.v1');
    expect(valueSubject('market.trades.v1')).toBe('market.trades.v1-value');
  });
});

describe('wire format and broadcast helpers', () => {
  it('reads the schema id and rejects other bytes', () => {
    expect(readSchemaId(Buffer.from([0, 0, 0, 1, 2, 99]))).toBe(258);
    expect(() => readSchemaId(Buffer.from([1, 0, 0, 0, 1]))).toThrow(WireFormatError);
    expect(() => readSchemaId(Buffer.from([0, 0]))).toThrow(WireFormatError);
  });

  it('recognises broadcast copies', () => {
    expect(isBroadcastCopy(undefined)).toBe(false);
    expect(isBroadcastCopy({})).toBe(false);
    expect(isBroadcastCopy({ [BROADCAST_COPY_HEADER]: '1' })).toBe(true);
  });
});

describe('history retention', () => {
  it('gives the topics that feed tables the history setting of their kind, as their retention.ms', () => {
    expect(TOPICS.minuteAggregates.retentionMs).toBe(HISTORY_RETENTION_MS.minuteBars);
    expect(TOPICS.patterns.retentionMs).toBe(HISTORY_RETENTION_MS.patternEvents);
    expect(topicConfigEntries(TOPICS.minuteAggregates)).toContainEqual({
      name: 'retention.ms',
      value: String(HISTORY_RETENTION_MS.minuteBars),
    });
    expect(topicConfigEntries(TOPICS.patterns)).toContainEqual({ name: 'retention.ms', value: String(HISTORY_RETENTION_MS.patternEvents) });
    expect(TOPICS.dailyAggregates.retentionMs).toBe(-1);
  });
});
