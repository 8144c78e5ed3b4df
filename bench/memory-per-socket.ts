/**
 * What one real gateway connection costs in memory, uWebSockets.js's native socket memory included (which
 * bench/memory-per-entry.ts does not see: it measures a connection's session state in the JS heap only). Not a timing
 * benchmark; needs the stack (Kafka, registry, PostgreSQL, Redis).
 *
 *   node --import tsx bench/memory-per-socket.ts 2000
 *
 * Runs `tickflow gateway` (patterns stream only) as a child process on topics, a database and a Redis prefix of its
 * own, so its RSS (/proc/<pid>/status) is not the clients'. After a warm-up cycle of a few connections (first-use
 * costs: compiled code, lazily made buffers), reads the gateway idle, then with N connections authenticated, then with
 * each subscribed to one stream with 3 symbols, then after all have closed. Each wait is for the gateway's own count on
 * /metrics; each RSS figure is the median of 5 readings. The JS heap figures come from /metrics: the heap in use at
 * the scrape (garbage included) and, when a major GC ran in between, the heap after the latest one.
 */
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import { rssBytes } from '../cli/soak-command.js';
import type { ClientFrame, ServerFrame } from '../gateway/client/protocol.js';
import { SUPERVISED_ENV, TokenService, loadAuthConfig, readTrackedStructures } from '../platform/index.js';
import { sumMetric } from '../platform/metrics-exposition.js';
import { waitUntil } from '../stack/local-stack.js';
import { createTestAccount } from '../store/accounts/testing.js';
import { migrate } from '../store/migrate.js';
import { createTestTopics } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix } from '../test/postgres.js';
import { FIXTURE_SYMBOLS } from '../test/record-fixtures.js';
import { freePort, percentile } from './harness.js';

const count = Number(process.argv[2] ?? 2_000);
if (!Number.isInteger(count) || count < 1) throw new RangeError(`connections must be a positive integer, not ${process.argv[2]}`);
const WARM_UP = Math.min(100, count);
/** Connections opened (or subscribed) at once. */
const WAVE = 200;
const LABEL = 'socket-mem';

/** The gateway process at one moment: RSS (median of 5 readings) and the JS heap its /metrics reports. */
interface Reading {
  readonly rss: number;
  readonly heapUsed: number | undefined;
  readonly heapAfterMajorGc: number | undefined;
}

/** The next frame of `type` on `socket` (after sending `frame`, if given); an error frame or a close fails it. */
function reply(socket: WebSocket, type: ServerFrame['type'], frame?: ClientFrame): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const received = JSON.parse(String(data)) as ServerFrame;
      if (received.type === type) {
        done();
        resolve();
      } else if (received.type === 'error') {
        done();
        reject(new Error(`${received.code}: ${received.message}`));
      }
    };
    const onClose = (code: number, reason: Buffer) => {
      done();
      reject(new Error(`closed (${code} ${reason.toString()}) while waiting for ${type}`));
    };
    const done = () => {
      socket.off('message', onMessage);
      socket.off('close', onClose);
    };
    socket.on('message', onMessage);
    socket.on('close', onClose);
    if (frame) socket.send(JSON.stringify(frame));
  });
}

/** `work` for indexes 0..n-1, WAVE at a time (the accept queue and the auth queries are not flooded). */
async function inWaves<T>(n: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < n; start += WAVE)
    results.push(...(await Promise.all(Array.from({ length: Math.min(WAVE, n - start) }, (_, offset) => work(start + offset)))));
  return results;
}

const sockets: WebSocket[] = [];
const [kafka, db] = await Promise.all([createTestTopics(LABEL, ['patterns']), createTestDatabase(LABEL)]);
let gateway: ReturnType<typeof spawn> | undefined;
try {
  await migrate(db.url, { timescale: 'off' });
  // The gateway refuses a token whose user does not exist.
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  const { id: userId } = await createTestAccount(pool);
  await pool.end();
  const jwtSecret = randomBytes(24).toString('hex');
  const { token } = await new TokenService(loadAuthConfig({ ...process.env, JWT_SECRET: jwtSecret })).issueAccessToken({ userId });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('../bin/tickflow.js', import.meta.url)), 'gateway', '--streams', 'patterns'],
    {
      // The IPC channel under SUPERVISED_ENV: the gateway stops itself if this process dies without stopping it.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        [SUPERVISED_ENV]: '1',
        TOPIC_PREFIX: kafka.prefix,
        KAFKA_BROKERS: kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: kafka.registryUrl,
        DATABASE_URL: db.url,
        REDIS_KEY_PREFIX: uniqueRedisPrefix(LABEL),
        JWT_SECRET: jwtSecret,
        LOG_LEVEL: 'warn',
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        METRICS_ON_PUBLIC_PORT: 'true',
        GATEWAY_ALLOW_WS_EMULATION: 'false',
        GATEWAY_MAX_CONNECTIONS: String(Math.max(count, 10_000)),
        // Connections stay open unsubscribed while the others open and while the gateway is read.
        GATEWAY_IDLE_TIMEOUT_MS: String(3_600_000),
      },
    },
  );
  gateway = child;
  const pid = child.pid!;
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `the gateway exited (${signal ?? `code ${code}`})`;
  });
  process.once('exit', () => child.kill('SIGKILL'));

  /** Waits for `condition`, failing at once if the gateway exits. */
  const until = async (what: string, condition: () => Promise<boolean>, timeoutMs = 120_000) => {
    await waitUntil(what, async () => exited !== undefined || (await condition()), timeoutMs, 100);
    if (exited) throw new Error(`${exited} while waiting for ${what}`);
  };
  const metrics = async () => (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const connections = async () =>
    readTrackedStructures(await metrics()).find((reading) => reading.structure === 'gateway.connections')?.entries;

  await until(
    'the gateway to answer /ready',
    async () => (await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2_000) })).ok,
    180_000,
  );
  const { transport } = (await (await fetch(`${base}/ready`)).json()) as { transport: { build: string; native: boolean } };
  if (!transport.native) throw new Error(`the gateway serves on ${transport.build}, not a native uWebSockets.js build: no figures`);

  const read = async (): Promise<Reading> => {
    const rss: number[] = [];
    for (let sample = 0; sample < 5; sample += 1) {
      if (sample > 0) await sleep(400);
      const value = rssBytes(pid);
      if (value === undefined) throw new Error(`no RSS for the gateway (pid ${pid})`);
      rss.push(value);
    }
    const text = await metrics();
    return {
      rss: percentile(rss, 50),
      heapUsed: sumMetric(text, ['tickflow_nodejs_heap_size_used_bytes']),
      heapAfterMajorGc: sumMetric(text, ['tickflow_nodejs_heap_after_major_gc_bytes']),
    };
  };
  const open = async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(socket);
    socket.on('error', () => {}); // a failure shows as the close that fails the pending reply
    await reply(socket, 'welcome');
    await reply(socket, 'authenticated', { type: 'auth', token });
    return socket;
  };
  const symbolsOf = (index: number) => [0, 1, 2].map((next) => FIXTURE_SYMBOLS[(index + next) % FIXTURE_SYMBOLS.length]!);

  /** Opens n connections, subscribes each, closes them all; the readings (open, subscribed, closed) when `measure`. */
  const cycle = async (n: number, measure: boolean): Promise<Reading[]> => {
    const readings: Reading[] = [];
    const held = await inWaves(n, open);
    await until(`${n} connections on /metrics`, async () => (await connections()) === n);
    if (measure) readings.push(await read());
    await inWaves(n, (index) =>
      reply(held[index]!, 'subscribed', { type: 'subscribe', id: 's', stream: 'patterns', filter: { symbols: symbolsOf(index) } }),
    );
    await until(`${n} subscriptions on /metrics`, async () => sumMetric(await metrics(), ['tickflow_gateway_subscriptions']) === n);
    if (measure) readings.push(await read());
    for (const socket of held) socket.close();
    await until('every connection closed on /metrics', async () => (await connections()) === 0);
    if (measure) readings.push(await read());
    return readings;
  };

  await cycle(WARM_UP, false);
  const idle = await read();
  const [opened, subscribed, closed] = (await cycle(count, true)) as [Reading, Reading, Reading];

  const per = (from: number | undefined, to: number | undefined) =>
    from === undefined || to === undefined ? undefined : Math.round((to - from) / count);
  const majorGcRan = idle.heapAfterMajorGc !== subscribed.heapAfterMajorGc;
  const rows = [
    { figure: 'RSS per open connection (authenticated, no subscription)', bytes: per(idle.rss, opened.rss) },
    { figure: 'RSS per subscribed connection (one stream, 3 symbols)', bytes: per(idle.rss, subscribed.rss) },
    { figure: 'RSS returned per connection after closing', bytes: per(closed.rss, subscribed.rss) },
    { figure: 'RSS kept per connection after closing', bytes: per(idle.rss, closed.rss) },
    { figure: 'JS heap in use per open connection (garbage included)', bytes: per(idle.heapUsed, opened.heapUsed) },
    { figure: 'JS heap in use per subscribed connection (garbage included)', bytes: per(idle.heapUsed, subscribed.heapUsed) },
    {
      figure: 'JS heap after the latest major GC, per subscribed connection',
      bytes: majorGcRan ? per(idle.heapAfterMajorGc, subscribed.heapAfterMajorGc) : undefined,
      absent: 'no major GC between the readings',
    },
  ];
  console.log(
    JSON.stringify(
      {
        connections: count,
        node: process.version,
        uws: transport.build,
        at: new Date().toISOString(),
        idle,
        opened,
        subscribed,
        closed,
        rows,
      },
      null,
      2,
    ),
  );
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `gateway RSS: idle ${mib(idle.rss)}, ${count} open ${mib(opened.rss)}, subscribed ${mib(subscribed.rss)}, closed ${mib(closed.rss)}`,
  );
  console.log('| figure | bytes per connection |\n|---|---|');
  for (const row of rows)
    console.log(`| ${row.figure} | ${row.bytes?.toLocaleString('en-US') ?? `— (${'absent' in row ? row.absent : 'not on /metrics'})`} |`);
} finally {
  for (const socket of sockets) socket.terminate();
  if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
    const gone = once(gateway, 'exit');
    gateway.kill('SIGTERM');
    const timer = setTimeout(() => gateway?.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(timer);
  }
  await Promise.all([kafka.cleanup(), db.drop()]);
}
