import { describe, expect, it } from 'vitest';
import { benchDatabases, benchDatabaseUrl, pathFigures, timescaleMode } from './databases.js';

describe('bench databases', () => {
  it('measures both paths unless told one', () => {
    expect(benchDatabases({})).toEqual(['plain', 'timescale']);
    expect(benchDatabases({ db: 'timescale' })).toEqual(['timescale']);
    expect(benchDatabases({ db: 'plain, plain' })).toEqual(['plain']);
    expect(() => benchDatabases({ db: 'mysql' })).toThrow(/db=mysql: expected plain, timescale/);
  });

  it('names each figure with its path and forces the path in the migrations', () => {
    expect(pathFigures('timescale', [{ name: 'COPY', value: 1, unit: 'rows/s' }])).toEqual([
      { name: '[timescale] COPY', value: 1, unit: 'rows/s' },
    ]);
    expect(timescaleMode('plain')).toBe('off');
    expect(timescaleMode('timescale')).toBe('on');
    expect(benchDatabaseUrl('timescale', 'tickflow_bench_api')).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5433\/tickflow_bench_api$/);
  });
});
