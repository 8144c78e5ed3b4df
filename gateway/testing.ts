/** Helpers for the gateway's integration tests and benchmark: isolated topics and database, users, raw clients. */
import pg from 'pg';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import {
  createLogger,
  topicName,
  TokenService,
  loadAuthConfig,
  loadPlatformConfig,
  type Logger,
  type TopicKey,
} from '../platform/index.js';
import { createTestAccount } from '../store/accounts/testing.js';
import { migrate } from '../store/migrate.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import type { ClientFrame, ServerFrame } from './client/protocol.js';
import { FrameRecorder } from './contract.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { startGateway, type GatewayHandle, type GatewayOptions } from './index.js';

/**
 * Every frame any gateway started by these helpers sends is checked against gateway/asyncapi.yaml; a test after
 * which a frame did not conform fails (and so does the env's cleanup, for frames sent after the last test).
 */
export const serverFrames = new FrameRecorder();
afterEach(() => serverFrames.assertConforming());

/** The platform settings' defaults (no env read): what the gateway's tests ran on before startGateway took explicit options. */
const PLATFORM_DEFAULTS = loadPlatformConfig({});

export interface TestUser {
  readonly id: string;
  readonly apiKey: string;
  readonly token: string;
}

export interface GatewayTestEnv {
  readonly kafka: TestKafka;
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly tokens: TokenService;
  readonly logger: Logger;
  createUser(universes?: Record<string, string[]>): Promise<TestUser>;
  /** Produces values to a stream's topic (key = symbol); returns nothing until acknowledged by all replicas. */
  produce(
    stream: 'patterns' | 'bars',
    values: readonly { key: string; value: unknown; partition?: number; headers?: Record<string, string> }[],
  ): Promise<void>;
  /** A gateway on the env's topics and database; `config` overrides some of the gateway's settings. */
  start(options?: Partial<Omit<GatewayOptions, 'config'>> & { readonly config?: Partial<GatewayConfig> }): Promise<GatewayHandle>;
  cleanup(): Promise<void>;
}

export async function createGatewayTestEnv(
  label: string,
  topics: readonly TopicKey[] = ['patterns', 'minuteAggregates'],
): Promise<GatewayTestEnv> {
  const [kafka, db] = await Promise.all([createTopicsRetrying(label, topics), createTestDatabase(label)]);
  await migrate(db.url, { timescale: 'off' });
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => {}); // the database's drop terminates connections still closing
  const tokens = new TokenService(loadAuthConfig({}));
  const logger = createLogger(`test-${label}`, { level: process.env.GATEWAY_TEST_LOG ?? 'error' });
  const producer = kafka.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // Only the env's own topics have registered schemas: encoders are made on first use.
  const encoders = new Map<'patterns' | 'bars', (value: unknown) => Buffer>();
  const encoderOf = async (stream: 'patterns' | 'bars') => {
    let encode = encoders.get(stream);
    if (!encode) {
      encode = await kafka.codec.encoderFor<unknown>(stream === 'patterns' ? 'patterns' : 'minuteAggregates');
      encoders.set(stream, encode);
    }
    return encode;
  };
  const gateways: GatewayHandle[] = [];
  return {
    kafka,
    db,
    pool,
    tokens,
    logger,
    async createUser(universes = {}) {
      const { id, apiKey } = await createTestAccount(pool, { universes });
      const { token } = await tokens.issueAccessToken({ userId: id });
      return { id, apiKey, token };
    },
    async produce(stream, values) {
      const topic = topicName(stream === 'patterns' ? 'patterns' : 'minuteAggregates', kafka.prefix);
      const encode = await encoderOf(stream);
      for (let start = 0; start < values.length; start += 2000) {
        await producer.send({
          topic,
          acks: -1,
          messages: values
            .slice(start, start + 2000)
            .map((entry) => ({ key: entry.key, value: encode(entry.value), partition: entry.partition, headers: entry.headers })),
        });
      }
    },
    async start(options = {}) {
      const handle = await startGateway({
        topicPrefix: kafka.prefix,
        brokers: kafka.brokers,
        registryUrl: kafka.registryUrl,
        kafkaClientId: `test-${label}`,
        databaseUrl: db.url,
        // The defaults' read model (the shared Redis, no key prefix): tests of snapshots from the read model pass their own.
        redisUrl: PLATFORM_DEFAULTS.REDIS_URL,
        redisKeyPrefix: PLATFORM_DEFAULTS.REDIS_KEY_PREFIX,
        tokens,
        logger,
        ...options,
        onFrameSent: (frame) => {
          serverFrames.record(frame);
          options.onFrameSent?.(frame);
        },
        config: { ...loadGatewayConfig({}), GATEWAY_PORT: 0, GATEWAY_POLL_WAIT_MS: 50, ...options.config },
      });
      gateways.push(handle);
      return handle;
    },
    async cleanup() {
      await Promise.all(gateways.map((gateway) => gateway.stop()));
      await producer.disconnect();
      await pool.end();
      await Promise.all([kafka.cleanup(), db.drop()]);
      serverFrames.assertConforming();
    },
  };
}

/**
 * A `ws` WebSocket that records every frame it receives in `serverFrames`: for a gateway in another process, whose
 * frames the in-process hook of `start` cannot see.
 */
export class RecordingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    this.on('message', (data: WebSocket.RawData) =>
      serverFrames.record(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(new Uint8Array(data))),
    );
  }
}

/** A bare protocol client for tests: every frame received is kept in order. */
export class RawClient {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly socket: WebSocket;
  private readonly opened: Promise<void>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      this.wake();
    });
    this.socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static async connect(url: string, auth?: { token: string } | { apiKey: string }): Promise<RawClient> {
    const client = new RawClient(url);
    await client.opened;
    await client.next((frame) => frame.type === 'welcome');
    if (auth) {
      client.send({ type: 'auth', ...auth } as ClientFrame);
      await client.next((frame) => frame.type === 'authenticated' || frame.type === 'error');
    }
    return client;
  }

  send(frame: ClientFrame | string | Buffer): void {
    this.socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  private cursor = 0;

  /** The next frame (after those already taken) matching `predicate`; waits for it. */
  async next<T extends ServerFrame = ServerFrame>(predicate: (frame: ServerFrame) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let index = this.cursor; index < this.frames.length; index += 1) {
        if (predicate(this.frames[index]!)) {
          this.cursor = index + 1;
          return this.frames[index] as T;
        }
      }
      if (this.closed)
        throw new Error(
          `socket closed (${this.closed.code} ${this.closed.reason}) while waiting; frames: ${JSON.stringify(this.frames.slice(-5))}`,
        );
      if (Date.now() > deadline)
        throw new Error(`no matching frame within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private waiters: (() => void)[] = [];

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Waits until `condition` holds, re-checking on every frame received. */
  async until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) while waiting`);
      if (Date.now() > deadline)
        throw new Error(`condition not met within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-3)).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 1);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every event delivered to subscription `id` so far. */
  events(id: string): Extract<ServerFrame, { type: 'events' }>['events'] {
    return this.frames.flatMap((frame) => (frame.type === 'events' && frame.id === id ? frame.events : []));
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Stops reading the socket (a client that stopped reading: TCP and then the server's buffer fill up). */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.close();
  }
}
