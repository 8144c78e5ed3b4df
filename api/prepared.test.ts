import { describe, expect, it } from 'vitest';
import { preparedStatements } from './prepared.js';

describe('preparedStatements', () => {
  it('names each statement after its text', async () => {
    const calls: { name: string; text: string; values: unknown[] }[] = [];
    const reader = preparedStatements({
      query: (config) => {
        calls.push(config);
        return Promise.resolve({ rows: [], rowCount: 0 });
      },
    });
    await reader.query('SELECT 1 WHERE $1', [1]);
    await reader.query('SELECT 1 WHERE $1', [2]);
    await reader.query('SELECT 2 WHERE $1', [1]);
    expect(calls.map((call) => call.values)).toEqual([[1], [2], [1]]);
    expect(calls[0]!.name).toMatch(/^tf_stmt_[\w-]{22}$/);
    expect(calls[1]!.name).toBe(calls[0]!.name);
    expect(calls[2]!.name).not.toBe(calls[0]!.name);
  });
});
