import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { defineEnv, env, loadPlatformConfig } from '../platform/index.js';
import { waitUntil } from '../stack/local-stack.js';
import { loadTimescaleStackConfig } from '../stack/timescaledb.js';

/** A PostgreSQL 15 cluster of a test's own (TimescaleDB preloaded or not), for tests that crash or restart the server. */
export { TimescaleCluster } from '../stack/timescaledb.js';

const loadTestDatabaseConfig = defineEnv('test', {
  TEST_DATABASE: env.string(
    'Server of the integration tests: plain (DATABASE_URL, PostgreSQL partitions) or timescale (the stack TimescaleDB cluster on STACK_TIMESCALE_PORT)',
    'plain',
  ),
});

/** The two storage paths the projections and the API are tested on (vitest runs their files once per path). */
export type TestServer = 'plain' | 'timescale';

export function testServer(): TestServer {
  const server = loadTestDatabaseConfig().TEST_DATABASE;
  if (server !== 'plain' && server !== 'timescale') throw new RangeError(`TEST_DATABASE must be plain or timescale, not ${server}`);
  return server;
}

/** The server's `postgres` database URL for this run's path: the machine's PostgreSQL, or the stack's TimescaleDB. */
export function testServerUrl(server: TestServer = testServer()): string {
  if (server === 'plain') return loadPlatformConfig().DATABASE_URL;
  return `postgres://postgres@127.0.0.1:${loadTimescaleStackConfig().STACK_TIMESCALE_PORT}/postgres`;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on this run's server (see `testServer()`), dropped by `drop()`. */
export async function createTestDatabase(label: string, server: TestServer = testServer()): Promise<TestDatabase> {
  const base = new URL(testServerUrl(server));
  const name = `tickflow_test_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const withAdmin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => withAdmin((client) => dropWhenClosed(client, name)) };
}

/** How long a drop waits for the database's sessions to close on their own before it terminates them. */
const DROP_GRACE_MS = 10_000;

/**
 * Drops a database once its sessions have closed. A pool's `end()` resolves before the server has closed its
 * backends; terminating one still closing makes its client emit 'error' after the test let go of it, which a
 * pool without an error listener turns into an uncaught exception (CI failed api.int.test.ts that way).
 * Sessions still open after the grace (a test that leaked a client) are terminated by FORCE.
 */
async function dropWhenClosed(client: pg.Client, name: string): Promise<void> {
  const closed = async () =>
    (await client.query<{ open: number }>('SELECT count(*)::int AS open FROM pg_stat_activity WHERE datname = $1', [name])).rows[0]!
      .open === 0;
  // Past the grace the drop goes ahead regardless.
  await waitUntil(`the sessions of ${name} to close`, closed, DROP_GRACE_MS, 20).catch(() => undefined);
  await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** A Redis key prefix no other test uses. */
export function uniqueRedisPrefix(label: string): string {
  return `test:${label}:${randomBytes(4).toString('hex')}:`;
}
