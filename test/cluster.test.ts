import { describe, expect, it } from 'vitest';
import { transactionStatePartition } from './cluster.js';

describe('transactionStatePartition', () => {
  it("is Kafka's abs(String.hashCode) modulo the partition count", () => {
    // "abc".hashCode() = 96354; "Aa" and "BB" collide (2112); a long id overflows int and goes negative.
    expect(transactionStatePartition('abc', 50)).toBe(96354 % 50);
    expect(transactionStatePartition('Aa', 50)).toBe(transactionStatePartition('BB', 50));
    // "polygenelubricants".hashCode() is Integer.MIN_VALUE, whose Utils.abs is 0.
    expect(transactionStatePartition('polygenelubricants', 50)).toBe(0);
    // "hello world".hashCode() = 1794106052.
    expect(transactionStatePartition('hello world', 50)).toBe(1794106052 % 50);
  });
});
