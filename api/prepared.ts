import pg from 'pg';
import type { ApiConfig } from './config.js';
import { digest } from '../platform/digest.js';
import type { Queryable } from '../store/queryable.js';

/**
 * Reads whose plan their statement's shape fixes, whatever the values, run as prepared statements planned once per
 * connection: scans filtered by confidence and at most one tier and one pattern type (patterns-store). Planning
 * such a scan cost more than running it: 0.8-1.2 ms against 0.35-0.8 ms on 10M rows (bench/RESULTS.md, API,
 * "Planning cost more than running").
 */

/**
 * The pool of those reads, or none when API_PREPARED_POOL is 0. Its sessions plan prepared statements generically:
 * left to choose, PostgreSQL compares a generic plan's estimate against custom plans made for each value, and a
 * scan's generic estimate (confidence and LIMIT unknown) is far above, so it would plan every execution anyway.
 * No JIT: such an estimate triggered JIT compilation, tens of ms per scan.
 */
export function createPreparedPool(databaseUrl: string, config: ApiConfig): pg.Pool | undefined {
  if (config.API_PREPARED_POOL <= 0) return undefined;
  return new pg.Pool({
    connectionString: databaseUrl,
    max: config.API_PREPARED_POOL,
    statement_timeout: config.API_STATEMENT_TIMEOUT_MS,
    options: '-c plan_cache_mode=force_generic_plan -c jit=off',
  });
}

/** A Queryable that runs each statement as a named statement, named after its text: pg parses it once per connection. */
export function preparedStatements(pool: {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: object[]; rowCount: number | null }>;
}): Queryable {
  return {
    query: <Row extends object>(text: string, values: unknown[] = []) =>
      pool.query({ name: `tf_stmt_${digest(text)}`, text, values }) as Promise<{ rows: Row[]; rowCount: number | null }>,
  };
}
