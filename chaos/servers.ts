import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadPlatformConfig } from '../platform/index.js';
import { LocalStack, portOpen } from '../stack/local-stack.js';
import { waitFor } from './pipeline.js';

const run = promisify(execFile);

/**
 * Fault injection on the shared servers. Each `restart`/`stop` has a matching way back up, which the tests
 * also call in afterAll, so a failing test never leaves a server down for the rest of the machine.
 */

async function redisUp(): Promise<boolean> {
  const probe = new Redis({
    host: '127.0.0.1',
    port: 6379,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function stopRedis(): Promise<void> {
  await run('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave']).catch(() => {});
  await waitFor('Redis to stop', async () => !(await redisUp()), 30_000, 100);
}

export async function startRedis(): Promise<void> {
  if (await redisUp()) return;
  await run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    '/var/lib/redis',
    '--logfile',
    '/var/log/redis/ci.log',
  ]);
  await waitFor('Redis to start', redisUp, 30_000, 100);
}

function postgresCluster(): string {
  return readdirSync('/etc/postgresql')[0] ?? '15';
}

async function postgresAccepts(): Promise<boolean> {
  const client = new pg.Client({
    connectionString: loadPlatformConfig().DATABASE_URL.replace(/\/[^/]*$/, '/postgres'),
    connectionTimeoutMillis: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function restartPostgres(): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', postgresCluster(), 'main', 'restart'], { timeout: 120_000 });
  await waitFor('PostgreSQL to accept connections', postgresAccepts, 60_000, 250);
}

export async function ensurePostgres(): Promise<void> {
  if (await postgresAccepts()) return;
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', postgresCluster(), 'main', 'start'], { timeout: 120_000 }).catch(() => {});
  await waitFor('PostgreSQL to accept connections', postgresAccepts, 60_000, 250);
}

/** Terminates every backend connected to `database` (the stages' pools see their connections die). */
export async function killPostgresConnections(database: string): Promise<number> {
  const client = new pg.Client({ connectionString: loadPlatformConfig().DATABASE_URL.replace(/\/[^/]*$/, '/postgres') });
  await client.connect();
  try {
    const { rows } = await client.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return rows.filter((row) => row.killed).length;
  } finally {
    await client.end();
  }
}

/** Stops Kafka and the registry (LocalStack.down) and starts them again (LocalStack.up). */
export async function restartKafka(report: (line: string) => void): Promise<void> {
  const stack = new LocalStack();
  await stack.down(report);
  await waitFor('Kafka to stop', async () => !(await portOpen('127.0.0.1', 9092)), 60_000, 250);
  await ensureKafka(report);
}

export async function ensureKafka(report: (line: string) => void = () => {}): Promise<void> {
  const stack = new LocalStack();
  const statuses = await stack.status();
  if (statuses.filter((server) => server.name === 'kafka' || server.name === 'registry').every((server) => server.up)) return;
  await stack.up(report);
}
