import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyTopics, createKafka, createLogger, topicName, type Kafka } from '../platform/index.js';
import { testClusterEnv } from '../test/cluster.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { LocalStack } from './local-stack.js';
import { ensureTlsMaterial } from './tls.js';

/**
 * Issue 21, items 1 and 3: a three-broker cluster of its own (own ports, own state folder, beside the shared
 * single-broker stack), with a SASL_SSL listener. Topics and internal topics replicated three times with two in sync;
 * the pipeline end to end through SASL_SSL; refused credentials and an untrusted certificate fail at once; one broker
 * killed, acks=all produce and consume carry on.
 */
const stateDir = mkdtempSync(join(tmpdir(), 'tickflow-cluster-'));
const clusterEnv = testClusterEnv(stateDir, { STACK_KAFKA_SASL_SSL: 'true' });
const repoRoot = join(import.meta.dirname, '..');
const tickflow = join(repoRoot, 'bin', 'tickflow.js');

describe('a three-broker cluster with a SASL_SSL listener', () => {
  const stack = new LocalStack(clusterEnv);
  let kafka: Kafka;
  let secured: Record<string, string>;
  const prefix = `cluster.${randomBytes(3).toString('hex')}.`;
  const securedPrefix = `${prefix}secured.`;

  beforeAll(async () => {
    await stack.up((line) => console.log(`[cluster] ${line}`));
    secured = stack.saslSslClientEnv()!;
    kafka = createKafka({
      brokers: clusterEnv.KAFKA_BROKERS.split(','),
      clientId: 'cluster-test',
      logger: createLogger('cluster-test', { level: 'error' }),
      security: { protocol: 'PLAINTEXT' },
    });
  }, 600_000);

  afterAll(async () => {
    await stack.down((line) => console.log(`[cluster] ${line}`));
    rmSync(stateDir, { recursive: true, force: true });
  }, 180_000);

  /** A `tickflow` command against the cluster's SASL_SSL listener, with `extra` over the env. */
  function command(args: readonly string[], extra: Record<string, string>) {
    return spawnSync(process.execPath, [tickflow, ...args], {
      cwd: repoRoot,
      env: { ...clusterEnv, ...secured, LOG_LEVEL: 'error', ...extra },
      encoding: 'utf8',
      timeout: 240_000,
    });
  }

  it('replicates the pipeline topics, the internal topics and the registry journal three times, two in sync', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await applyTopics(admin, prefix, ['trades', 'patterns'], { KAFKA_PARTITIONS: 6 });
      // The consumer offsets topic exists once a group has committed; a transactional producer makes the transaction log.
      const producer = kafka.producer({ transactionalId: `${prefix}tx`, idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const transaction = await producer.transaction();
      await transaction.send({ topic: topicName('trades', prefix), messages: [{ key: 'A', value: 'x' }] });
      await transaction.commit();
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `${prefix}group` });
      await consumer.connect();
      await consumer.subscribe({ topic: topicName('trades', prefix), fromBeginning: true });
      let seen = 0;
      await consumer.run({ eachMessage: async () => void (seen += 1) });
      await vi.waitFor(() => expect(seen).toBeGreaterThan(0), { timeout: 60_000, interval: 200 });
      await consumer.commitOffsets([{ topic: topicName('trades', prefix), partition: 0, offset: '0' }]).catch(() => {});
      await consumer.disconnect();

      const topics = [
        topicName('trades', prefix),
        topicName('patterns', prefix),
        '__consumer_offsets',
        '__transaction_state',
        'kafkasql-journal',
      ];
      const metadata = await admin.fetchTopicMetadata({ topics });
      for (const topic of metadata.topics) {
        for (const partition of topic.partitions)
          expect({ topic: topic.name, replicas: partition.replicas.length }).toEqual({ topic: topic.name, replicas: 3 });
      }
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({ type: 2, name, configNames: ['min.insync.replicas'] })),
      });
      for (const resource of configs.resources) {
        expect({ topic: resource.resourceName, minIsr: resource.configEntries[0]?.configValue }).toEqual({
          topic: resource.resourceName,
          minIsr: '2',
        });
      }
      expect(metadata.topics.find((topic) => topic.name === topicName('trades', prefix))!.partitions).toHaveLength(6);
    } finally {
      await admin.disconnect();
    }
  });

  it('runs ingest, processors and projector end to end through SASL_SSL', async () => {
    const database: TestDatabase = await createTestDatabase('cluster');
    const env = {
      TOPIC_PREFIX: securedPrefix,
      DATABASE_URL: database.url,
      REDIS_KEY_PREFIX: uniqueRedisPrefix('cluster'),
      PROCESSOR_GROUP_ID: `${securedPrefix}processors`,
      PROJECTOR_GROUP_PREFIX: `${securedPrefix}projections.`,
      SIMULATOR_PORT: '28865',
      INGEST_OPS_PORT: '29564',
      PROCESSOR_OPS_PORT: '29565',
      PROJECTOR_OPS_PORT: '29566',
    };
    const children: ChildProcess[] = [];
    try {
      const setup = command(['setup'], env);
      expect(setup.status, setup.stderr).toBe(0);
      for (const args of [['ingest', '--source', 'simulator', '--speed', '60', '--rate', '1000'], ['process'], ['project']]) {
        const child = spawn(process.execPath, [tickflow, ...args], {
          cwd: repoRoot,
          env: { ...clusterEnv, ...secured, LOG_LEVEL: 'warn', ...env },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(child);
      }
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await vi.waitFor(
          async () => {
            const { rows } = await client.query<{ bars: string; events: string }>(
              'SELECT (SELECT count(*) FROM bars_1m) AS bars, (SELECT count(*) FROM pattern_events) AS events',
            );
            expect(Number(rows[0]!.bars)).toBeGreaterThan(0);
            expect(Number(rows[0]!.events)).toBeGreaterThan(0);
          },
          { timeout: 240_000, interval: 1000 },
        );
      } finally {
        await client.end();
      }
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(
        children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)),
      );
      await database.drop();
    }
  }, 420_000);

  it('stops at once with one clear line on a wrong password or an untrusted certificate', () => {
    // Schemas registered first (the processors read them before connecting to Kafka), through the right password.
    const setup = command(['topics', 'apply'], { TOPIC_PREFIX: securedPrefix });
    expect(setup.status, setup.stderr).toBe(0);
    const wrongPassword = command(['process'], { KAFKA_SASL_PASSWORD: 'not-the-password', TOPIC_PREFIX: securedPrefix });
    expect(wrongPassword.status).toBe(1);
    expect(wrongPassword.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^tickflow: Kafka .*SASL authentication failed for user 'tickflow'/),
    ]);

    // A CA of its own that never signed the brokers' certificate.
    const otherCa = ensureTlsMaterial(join(stateDir, 'other-ca'), ['127.0.0.1']);
    const untrusted = command(['process'], { KAFKA_TLS_CA_FILE: otherCa.caPem, TOPIC_PREFIX: securedPrefix });
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^tickflow: Kafka .*TLS certificate is not trusted.*KAFKA_TLS_CA_FILE/),
    ]);
  }, 300_000);

  it('keeps producing with acks=all and consuming with one broker killed', async () => {
    const topic = topicName('trades', `${prefix}failover.`);
    const admin = kafka.admin();
    await admin.connect();
    await applyTopics(admin, `${prefix}failover.`, ['trades'], { KAFKA_PARTITIONS: 6 });
    await admin.disconnect();

    const victim = stack.kafkaNodes[2]!;
    const pid = stack.managedPid(victim.name)!;
    process.kill(pid, 'SIGKILL');
    await vi.waitFor(() => expect(() => process.kill(pid, 0)).toThrow(), { timeout: 30_000, interval: 100 });
    // The controller moves leadership off the dead broker once its session expires; then two replicas are in sync.
    const watcher = kafka.admin();
    await watcher.connect();
    try {
      await vi.waitFor(
        async () => {
          const [described] = (await watcher.fetchTopicMetadata({ topics: [topic] })).topics;
          for (const partition of described!.partitions) {
            expect(partition.leader).not.toBe(victim.id);
            expect(partition.isr).toHaveLength(2);
          }
        },
        { timeout: 60_000, interval: 500 },
      );
    } finally {
      await watcher.disconnect();
    }

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const keys = Array.from({ length: 300 }, (_, index) => `S${index}`);
    // acks=all with min.insync.replicas=2: two of three replicas are enough, so every write succeeds.
    await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: key })) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${prefix}failover` });
    const read = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void read.add(message.value!.toString()) });
    try {
      await vi.waitFor(() => expect(read.size).toBe(keys.length), { timeout: 120_000, interval: 250 });
    } finally {
      await consumer.disconnect();
    }
  }, 300_000);
});
