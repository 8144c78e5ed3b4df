import { describe, expect, it } from 'vitest';
import { parse as parseAvro } from 'avsc';
import { readSchemaId, WireFormatError } from './codec.js';
import { isBroadcastCopy, BROADCAST_COPY_HEADER } from './broadcast.js';
import {
  coPartitioningProblems,
  HISTORY_RETENTION_MS,
  partitionCount,
  schemaText,
  TOPIC_KEYS,
  TOPICS,
  topicConfigEntries,
  topicName,
  valueSubject,
} from './topics.js';

describe('topic catalog', () => {
  it('has a valid Avro schema for every topic', () => {
    for (const key of TOPIC_KEYS) {
      expect(() => parseAvro(JSON.parse(schemaText(key)))).not.toThrow();
    }
  });

  it("co-partitions the symbol-keyed market and pattern topics at the deployment's count", () => {
    const counts = new Set(
      (['trades', 'quotes', 'secondAggregates', 'minuteAggregates', 'dailyAggregates', 'fundamentals', 'patterns'] as const).map((key) =>
        partitionCount(TOPICS[key], 12),
      ),
    );
    expect([...counts]).toEqual([12]);
    expect(partitionCount(TOPICS.deadLetters, 12)).toBe(1);
  });

  it('refuses a symbol-keyed topic that already has more partitions than the setting', () => {
    const existing = new Map([
      ['p.market.trades.v1', 6],
      ['p.patterns.events.v1', 12],
      ['p.ops.deadletter.v1', 4],
    ]);
    expect(coPartitioningProblems(existing, 'p.', 12)).toEqual([]);
    const problems = coPartitioningProblems(existing, 'p.', 6);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^p\.patterns\.events\.v1 has 12 partitions and KAFKA_PARTITIONS is 6.*KAFKA_PARTITIONS=12/);
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
