import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, createMetricsRegistry, type TradeRecord } from '../platform/index.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { createIngestMetrics } from './metrics.js';
import { KafkaSink } from './sink.js';
import { collectTopics, type Collector } from './testing/collect.js';
import { massiveHandshake, startScriptedServer, type ScriptedConnection, type ScriptedServer } from './testing/scripted-server.js';

/**
 * Issue 21: ingest as an explicit singleton. Real `tickflow ingest` processes under one lease (INGEST_LEASE) against a
 * scripted Massive server and the shared broker: the second waits as a standby (visible in /ready and /metrics) and
 * takes over when the first is frozen or killed; a frozen active instance that wakes up cannot write (Kafka fences
 * it); what the topic holds is every trade the feed handed the active instance, once.
 */

const repoRoot = join(import.meta.dirname, '..');
const tickflow = join(repoRoot, 'bin', 'tickflow.js');
const logger = createLogger('ingest-lease-int', { level: 'silent' });
const SESSION_TIMEOUT_MS = 6_000;
const WAIT = { timeout: 90_000, interval: 200 };

/** One `tickflow ingest --source massive` process, its log lines and its ops port (read from its first log line). */
class IngestProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private port: number | undefined;

  constructor(
    readonly instance: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [tickflow, 'ingest', '--source', 'massive'], {
      cwd: repoRoot,
      env: { ...process.env, ...env, INGEST_INSTANCE: instance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rest = '';
    const onData = (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        this.lines.push(line);
        if (this.port === undefined && line.includes('"ingest running"')) this.port = (JSON.parse(line) as { opsPort: number }).opsPort;
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async ops(path: string): Promise<{ status: number; text: string }> {
    if (this.port === undefined) throw new Error(`${this.instance} has not logged its ops port yet`);
    const response = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(2000) });
    return { status: response.status, text: await response.text() };
  }

  /** The lease role its /ready reports (undefined while not ready). */
  async role(): Promise<string | undefined> {
    const ready = await this.ops('/ready');
    if (ready.status !== 200) return undefined;
    return (JSON.parse(ready.text) as { checks: { lease?: { details?: { role?: string } } } }).checks.lease?.details?.role;
  }

  /** The value of a sample of /metrics: `name` and the labels it must carry (the registry adds its own). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const line = (await this.ops('/metrics')).text
      .split('\n')
      .find((entry) => entry.startsWith(name) && Object.entries(labels).every(([label, value]) => entry.includes(`${label}="${value}"`)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  }
}

/** A trade on the wire; the feed's identity of an event is (symbol, sequence). */
const trade = (sequence: number) => ({
  ev: 'T',
  sym: `L${sequence % 7}`,
  x: 4,
  i: String(sequence),
  z: 3,
  p: 100 + (sequence % 13),
  s: 10,
  c: [],
  t: Date.now(),
  q: sequence,
});
/** A trade as the topic holds it (written by the test itself, not through the feed). */
const tradeRecord = (symbol: string, sequence: number): TradeRecord => ({
  symbol,
  exchange: 4,
  tradeId: String(sequence),
  tape: 3,
  price: 10,
  size: 1,
  fractionalSize: null,
  conditions: [],
  sipTimestampMs: Date.now(),
  sequence,
  trfId: null,
  trfTimestampMs: null,
  source: 'test',
  ingestedAtMs: Date.now(),
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('ingest active/standby lease (real processes, shared broker)', () => {
  let topics: TestKafka;
  let server: ScriptedServer;
  let collector: Collector;
  const subscribed: ScriptedConnection[] = [];
  const processes: IngestProcess[] = [];
  let env: Record<string, string>;

  /** Sends trades `sequences` to one connection, a frame of 10 at a time. */
  const feed = (connection: ScriptedConnection, sequences: readonly number[]) => {
    for (let index = 0; index < sequences.length; index += 10)
      connection.socket.send(JSON.stringify(sequences.slice(index, index + 10).map(trade)));
  };
  /** Sequences on the trades topic (read_committed), with repeats. */
  const onTopic = () => collector.on('trades').map((message) => (message.value as unknown as TradeRecord).sequence);
  let markers = 0;
  /**
   * Resolves once the collector has read everything committed to the trades topic so far: a marker written now to
   * every partition (negative sequence) comes through only after what precedes it there.
   */
  const collectorCaughtUp = async () => {
    const topic = topics.codec.topic('trades');
    const encode = await topics.codec.encoderFor<TradeRecord>('trades');
    const admin = topics.kafka.admin();
    await admin.connect();
    const partitions = (await admin.fetchTopicOffsets(topic)).map((entry) => entry.partition);
    await admin.disconnect();
    const producer = topics.kafka.producer({ idempotent: true, allowAutoTopicCreation: false });
    await producer.connect();
    const written = partitions.map(() => -1_000_000 - (markers += 1));
    await producer.send({
      topic,
      acks: -1,
      messages: partitions.map((partition, index) => ({ partition, key: 'M', value: encode(tradeRecord('M', written[index]!)) })),
    });
    await producer.disconnect();
    await vi.waitFor(() => expect(onTopic()).toEqual(expect.arrayContaining(written)), WAIT);
  };
  const start = (instance: string) => {
    const child = new IngestProcess(instance, env);
    processes.push(child);
    return child;
  };

  beforeAll(async () => {
    topics = await createTestTopics('ingest-lease');
    server = await startScriptedServer({
      onConnection: massiveHandshake.onConnection,
      onMessage: (connection, message) => {
        massiveHandshake.onMessage(connection, message);
        if (message.action === 'subscribe') subscribed.push(connection);
      },
    });
    env = {
      TOPIC_PREFIX: topics.prefix,
      LOG_LEVEL: 'info',
      MASSIVE_WS_URL: server.url,
      MASSIVE_API_KEY: 'lease-test-key',
      INGEST_CHANNELS: 'T',
      INGEST_OPS_PORT: '0',
      INGEST_BACKOFF_BASE_MS: '100',
      INGEST_BACKOFF_MAX_MS: '500',
      INGEST_LEASE: 'true',
      INGEST_LEASE_ID: `${topics.prefix}ingest`,
      INGEST_LEASE_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
    };
    collector = await collectTopics(topics.kafka, topics.codec, ['trades']);
  }, 180_000);

  afterAll(async () => {
    for (const child of processes) child.signal('SIGKILL');
    await Promise.all(processes.map((child) => child.exited));
    await collector?.stop();
    await server?.close();
    await topics?.cleanup();
  }, 60_000);

  it('Kafka refuses a stale producer of the lease: writes after another instance opened its sink never become visible', async () => {
    const fenced: string[] = [];
    const open = (onFenced: (reason: string) => void) =>
      KafkaSink.create({
        kafka: topics.kafka,
        codec: topics.codec,
        logger,
        metrics: createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false })),
        benchmarkSymbol: 'SPY',
        topics: ['trades'],
        transactionalId: `${topics.prefix}fencing`,
        onFenced,
      });
    const record = (sequence: number) => ({
      topic: 'trades' as const,
      key: 'F',
      value: tradeRecord('F', sequence),
      eventTimeMs: Date.now(),
    });
    const stale = await open((reason) => fenced.push(reason));
    stale.produce([record(-1)]);
    await stale.flush();
    // Opening the new sink alone fences the stale one: it has written nothing yet when the stale one tries.
    const current = await open(() => {});
    stale.produce([record(-2)]);
    await stale.flush();
    expect(fenced).toHaveLength(1);
    current.produce([record(-3)]);
    await current.flush();
    await current.close();
    await stale.close();
    await vi.waitFor(() => expect(onTopic().filter((sequence) => sequence < 0)).toEqual(expect.arrayContaining([-1, -3])), WAIT);
    expect(onTopic().filter((sequence) => sequence < 0)).toHaveLength(2);
  });

  // Skipped, issue 21: fails (2026-12-06 CI dry run and alone): the frozen holder's 50 trades reach the topic after
  // the takeover. ingest/main.ts refuses INGEST_LEASE until this passes.
  it('a second instance waits as a standby; a frozen active one is taken over, and cannot write when it wakes', async () => {
    const a = start('a');
    await vi.waitFor(async () => expect(await a.role()).toBe('active'), WAIT);
    await vi.waitFor(() => expect(subscribed).toHaveLength(1), WAIT);
    const b = start('b');
    await vi.waitFor(async () => expect(await b.role()).toBe('standby'), WAIT);
    expect(await b.metric('tickflow_ingest_lease_role', { role: 'standby' })).toBe(1);
    expect(await b.metric('tickflow_ingest_lease_role', { role: 'active' })).toBe(0);
    expect(await a.metric('tickflow_ingest_lease_role', { role: 'active' })).toBe(1);
    // The standby joining did not move the lease, nor open a second socket.
    expect(await a.role()).toBe('active');
    expect(subscribed).toHaveLength(1);

    feed(subscribed[0]!, range(1, 100));
    await vi.waitFor(() => expect(onTopic().filter((sequence) => sequence > 0)).toHaveLength(100), WAIT);

    // Frozen (a long pause, as of a stuck host): it stops heartbeating, and the standby takes over.
    a.signal('SIGSTOP');
    await vi.waitFor(async () => expect(await b.role()).toBe('active'), WAIT);
    await vi.waitFor(() => expect(subscribed).toHaveLength(2), WAIT);
    expect(await b.metric('tickflow_ingest_lease_takeovers_total')).toBe(1);
    // The feed still talks to the frozen instance's socket: what it says there must never reach the topic. It wakes
    // before the new holder has written anything: taking the lease over alone must have fenced it.
    feed(subscribed[0]!, range(101, 150));
    a.signal('SIGCONT');
    // It wakes, finds the lease gone or its writes refused, and exits for its supervisor to restart it as a standby.
    expect(await a.exited).toBe(75);
    expect(a.lines.join('\n')).toMatch(/ingest lease lost|fenced/);
    feed(subscribed[1]!, range(151, 200));
    await vi.waitFor(() => expect(onTopic().filter((sequence) => sequence > 150)).toHaveLength(50), WAIT);
    const sequences = onTopic().filter((sequence) => sequence > 0);
    expect(sequences.filter((sequence) => sequence > 100 && sequence <= 150)).toEqual([]);
    expect([...sequences].sort((x, y) => x - y)).toEqual([...range(1, 100), ...range(151, 200)]);
  });

  // Skipped, issue 21: fails (2026-12-06 CI dry run and alone): after the kill the topic holds 350 trades for 300.
  // ingest/main.ts refuses INGEST_LEASE until this passes.
  it('kill -9 of the active instance mid-stream: the standby takes over, and the topic holds every trade once', async () => {
    const b = processes.find((child) => child.instance === 'b')!;
    const c = start('c');
    await vi.waitFor(async () => expect(await c.role()).toBe('standby'), WAIT);
    expect(await b.role()).toBe('active');
    const socketOfB = subscribed[1]!;
    feed(socketOfB, range(201, 300));
    b.signal('SIGKILL');
    expect(await b.exited).toBe(null);
    await vi.waitFor(async () => expect(await c.role()).toBe('active'), WAIT);
    await vi.waitFor(() => expect(subscribed).toHaveLength(3), WAIT);
    // Whatever of 201..300 the killed instance had committed is on the topic; its open transaction, if any, was
    // aborted when the new holder opened its producer. The feed sends the rest again, then goes on.
    await collectorCaughtUp();
    const committed = new Set(onTopic());
    const missing = range(201, 300).filter((sequence) => !committed.has(sequence));
    feed(subscribed[2]!, [...missing, ...range(301, 350)]);
    await vi.waitFor(() => expect(new Set(onTopic().filter((sequence) => sequence > 200)).size).toBe(150), WAIT);
    const sequences = onTopic().filter((sequence) => sequence > 0);
    const counts = new Map<number, number>();
    for (const sequence of sequences) counts.set(sequence, (counts.get(sequence) ?? 0) + 1);
    expect([...counts].filter(([, count]) => count > 1)).toEqual([]);
    expect([...counts.keys()].sort((x, y) => x - y)).toEqual([...range(1, 100), ...range(151, 350)]);
    c.signal('SIGTERM');
    expect(await c.exited).toBe(0);
  });
});
