import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import '../platform/kafkajs-timers.js';
import { z } from 'zod';
import { defineEnv, env, loadPlatformConfig, type EnvSource } from '../platform/config.js';
import { internalReplication, kafkaLayout, kafkaNodeProperties, type KafkaNode } from './kafka-nodes.js';
import { TIMESCALEDB_VERSION, TimescaleCluster } from './timescaledb.js';
import { ensureTlsMaterial, type TlsMaterial } from './tls.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const loadStackConfig = defineEnv('stack', {
  STACK_DIR: env.string('Where the local stack keeps the servers fetched by Maven', join(repoRoot, '.stack')),
  STACK_STATE_DIR: env.optionalString('Where the local stack keeps data, logs and pid files (default: STACK_DIR)'),
  STACK_KAFKA_HEAP: env.string('JVM heap of each local Kafka broker', '1g'),
  STACK_BROKERS: z.coerce
    .number()
    .int()
    .min(1)
    .max(9)
    .default(1)
    .describe(
      'Kafka brokers `stack up` runs (KRaft, each node broker and controller; `--brokers`): 1 for newcomers and CI, 3 for a replicated cluster (listeners on KAFKA_BROKERS, or consecutive ports from its first address)',
    ),
  STACK_KAFKA_SASL_SSL: env.bool(
    'Whether `stack up` adds a SASL_SSL listener to each broker (port + 2 × brokers), with certificates made by openssl and PLAIN/SCRAM users',
    false,
  ),
  STACK_KAFKA_SASL_USERNAME: env.string('User of the local SASL_SSL listener (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512)', 'tickflow'),
  STACK_KAFKA_SASL_PASSWORD: env.string('Password of the local SASL_SSL listener (a local stack only)', 'tickflow-secret'),
  STACK_REGISTRY_HEAP: env.string('JVM heap of the local Apicurio Registry', '512m'),
  STACK_READY_TIMEOUT_MS: env.int('How long `stack up` waits for each server to be ready', 120_000),
  JAVA_HOME: env.optionalString('JDK used for Kafka and Apicurio (default: java on PATH)'),
});

/** Server versions, read from the pom so that one file decides them. */
export function stackVersions(): { kafka: string; apicurio: string } {
  const pom = readFileSync(join(repoRoot, 'stack', 'pom.xml'), 'utf8');
  const property = (name: string) => {
    const match = new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom);
    if (!match?.[1]) throw new Error(`stack/pom.xml has no <${name}>`);
    return match[1];
  };
  return { kafka: property('kafka.version'), apicurio: property('apicurio.version') };
}

export interface ServerStatus {
  readonly name: 'kafka' | `kafka-${number}` | 'registry' | 'postgres' | 'timescaledb' | 'redis';
  readonly up: boolean;
  readonly address: string;
  readonly version?: string;
  /** Started (and so stoppable) by `stack up`. */
  readonly managed: boolean;
  readonly detail?: string;
  /** How to start it when it is down. */
  readonly startCommand?: string;
}

type Report = (line: string) => void;

function hostPort(address: string, fallbackPort: number): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  return { host: url.hostname, port: url.port ? Number(url.port) : fallbackPort };
}

/**
 * A KRaft cluster id: 16 random bytes in base64url, as Kafka's own `Uuid.randomUuid()`, which likewise never
 * returns one that starts with '-': the storage tool's argument parser would take it for an option (a fresh
 * format failed that way, about once in 64).
 */
export function newClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls a condition until it holds or the deadline passes (used for servers, never in place of a test assertion). */
export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms`);
}

/** Apicurio's KafkaSQL topics (its defaults: apicurio.kafkasql.topic, .snapshots.topic, apicurio.events.kafka.topic). */
const REGISTRY_TOPICS = ['kafkasql-journal', 'kafkasql-snapshots', 'registry-events'];

export class LocalStack {
  private readonly platform;
  private readonly config;
  private readonly versions = stackVersions();
  /** The stack's own PostgreSQL 15 cluster with TimescaleDB preloaded (the production path). */
  readonly timescale: TimescaleCluster;

  constructor(source: EnvSource = process.env) {
    this.platform = loadPlatformConfig(source);
    this.config = loadStackConfig(source);
    this.timescale = new TimescaleCluster(this.stateDir, source);
  }

  private get dir() {
    return this.config.STACK_DIR;
  }
  private get kafkaHome() {
    return join(this.dir, `kafka-${this.versions.kafka}`);
  }
  private get registryHome() {
    return join(this.dir, `apicurio-${this.versions.apicurio}`);
  }
  private get stateDir() {
    return this.config.STACK_STATE_DIR ?? this.dir;
  }
  private pidFile(name: string) {
    return join(this.stateDir, 'run', `${name}.pid`);
  }
  logFile(name: string) {
    return join(this.stateDir, 'logs', `${name}.log`);
  }
  private get java() {
    return this.config.JAVA_HOME ? join(this.config.JAVA_HOME, 'bin', 'java') : 'java';
  }
  /** The brokers `up` runs, with their ports, data, pid and log names. */
  get kafkaNodes(): KafkaNode[] {
    return kafkaLayout({
      addresses: this.platform.KAFKA_BROKERS.map((address) => hostPort(address, 9092)),
      brokers: this.config.STACK_BROKERS,
      stateDir: this.stateDir,
      saslSsl: this.config.STACK_KAFKA_SASL_SSL,
    });
  }
  /** Where the certificates of the SASL_SSL listener are kept. */
  get tlsDir(): string {
    return join(this.stateDir, 'tls');
  }
  /**
   * The client settings (KAFKA_BROKERS, KAFKA_SECURITY_PROTOCOL, ...) that reach this stack through its SASL_SSL
   * listener, with SCRAM-SHA-512; undefined when it runs none.
   */
  saslSslClientEnv(): Record<string, string> | undefined {
    if (!this.config.STACK_KAFKA_SASL_SSL) return undefined;
    return {
      KAFKA_BROKERS: this.kafkaNodes.map((node) => `${node.host}:${node.saslSslPort}`).join(','),
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_TLS_CA_FILE: join(this.tlsDir, 'ca.pem'),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: this.config.STACK_KAFKA_SASL_USERNAME,
      KAFKA_SASL_PASSWORD: this.config.STACK_KAFKA_SASL_PASSWORD,
    };
  }
  private get registryAddress() {
    return hostPort(this.platform.SCHEMA_REGISTRY_URL, 8081);
  }
  private get registryRoot() {
    return this.platform.SCHEMA_REGISTRY_URL.replace(/\/apis\/ccompat\/v7\/?$/, '');
  }

  /** Fetches Kafka and Apicurio from Maven Central through stack/pom.xml when they are not there yet. */
  fetchServers(report: Report = () => {}): void {
    const registryJar = join(this.registryHome, `apicurio-registry-app-${this.versions.apicurio}-runner.jar`);
    if (existsSync(join(this.kafkaHome, 'libs')) && existsSync(registryJar)) return;
    report(`fetching Kafka ${this.versions.kafka} and Apicurio Registry ${this.versions.apicurio} through Maven`);
    const result = spawnSync('mvn', ['-B', '-q', '-f', join(repoRoot, 'stack', 'pom.xml'), `-Dstack.dir=${this.dir}`, 'package'], {
      stdio: 'inherit',
    });
    if (result.status !== 0) throw new Error('mvn could not fetch the stack servers (see the output above)');
  }

  /** The pid of a server `up` started (`kafka`, `kafka-<id>`, `registry`) while it runs. */
  managedPid(name: string): number | undefined {
    const file = this.pidFile(name);
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      rmSync(file, { force: true });
      return undefined;
    }
  }

  private startJava(name: string, args: string[], cwd: string): number {
    mkdirSync(join(this.stateDir, 'run'), { recursive: true });
    mkdirSync(join(this.stateDir, 'logs'), { recursive: true });
    const log = openSync(this.logFile(name), 'a');
    const child = spawn(this.java, args, { cwd, detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${name}`);
    writeFileSync(this.pidFile(name), String(child.pid));
    return child.pid;
  }

  private async describeCluster(node: Pick<KafkaNode, 'host' | 'port'>): Promise<{ brokers: number; controller: boolean }> {
    if (!(await portOpen(node.host, node.port))) return { brokers: 0, controller: false };
    const kafka = new Kafka({
      brokers: [`${node.host}:${node.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 1000,
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return { brokers: cluster.brokers.length, controller: cluster.controller !== null };
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Every broker of the stack has joined the cluster, and it has a controller. */
  async kafkaReady(): Promise<boolean> {
    const nodes = this.kafkaNodes;
    const cluster = await this.describeCluster(nodes[0]!);
    if (!cluster.controller || cluster.brokers < nodes.length) return false;
    const open = await Promise.all(nodes.map((node) => portOpen(node.host, node.port)));
    return open.every(Boolean);
  }

  /** The cluster id of a node formatted before, so that a node formatted later joins the same cluster. */
  private existingClusterId(nodes: readonly KafkaNode[]): string | undefined {
    for (const node of nodes) {
      const meta = join(node.dataDir, 'meta.properties');
      if (!existsSync(meta)) continue;
      const id = /^cluster\.id=(.+)$/m.exec(readFileSync(meta, 'utf8'))?.[1]?.trim();
      if (id) return id;
    }
    return undefined;
  }

  private async startKafka(report: Report): Promise<void> {
    if (await this.kafkaReady().catch(() => false)) {
      report(`kafka: already running at ${this.kafkaNodes.map((node) => `${node.host}:${node.port}`).join(',')}`);
      if (this.config.STACK_KAFKA_SASL_SSL) await this.ensureSaslUsers(report);
      return;
    }
    const nodes = this.kafkaNodes;
    const tls = this.config.STACK_KAFKA_SASL_SSL
      ? ensureTlsMaterial(this.tlsDir, [...new Set(nodes.map((node) => node.host))], report)
      : undefined;
    const classpath = `${join(this.kafkaHome, 'libs')}/*`;
    let clusterId = this.existingClusterId(nodes);
    mkdirSync(join(this.stateDir, 'run'), { recursive: true });
    for (const node of nodes) {
      if (this.managedPid(node.name) !== undefined || (await portOpen(node.host, node.port))) {
        report(`${node.name}: already running at ${node.host}:${node.port}`);
        continue;
      }
      writeFileSync(node.propertiesFile, kafkaNodeProperties(node, nodes, tls ? this.saslSslListener(tls) : undefined));
      if (!existsSync(join(node.dataDir, 'meta.properties'))) {
        clusterId ??= newClusterId();
        const format = spawnSync(
          this.java,
          ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', node.propertiesFile],
          {
            encoding: 'utf8',
          },
        );
        if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr || format.stdout}`);
        report(`${node.name}: formatted storage in ${node.dataDir} (cluster ${clusterId})`);
      }
      mkdirSync(node.logsDir, { recursive: true });
      const pid = this.startJava(
        node.name,
        [
          `-Xmx${this.config.STACK_KAFKA_HEAP}`,
          `-Xms${this.config.STACK_KAFKA_HEAP}`,
          '-XX:+UseG1GC',
          `-Dlog4j2.configurationFile=${join(repoRoot, 'stack', 'log4j2.properties')}`,
          `-Dkafka.logs.dir=${node.logsDir}`,
          '-cp',
          classpath,
          'kafka.Kafka',
          node.propertiesFile,
        ],
        this.stateDir,
      );
      report(`${node.name}: started (pid ${pid}), log ${this.logFile(node.name)}`);
    }
    await waitUntil('kafka', () => this.kafkaReady(), this.config.STACK_READY_TIMEOUT_MS);
    if (tls) await this.ensureSaslUsers(report);
  }

  private saslSslListener(tls: TlsMaterial) {
    return {
      keystorePem: tls.brokerKeystorePem,
      truststorePem: tls.caPem,
      username: this.config.STACK_KAFKA_SASL_USERNAME,
      password: this.config.STACK_KAFKA_SASL_PASSWORD,
    };
  }

  /**
   * Creates (or resets) the SCRAM credentials of the SASL_SSL user with Kafka's own kafka-configs tool
   * (kafka.admin.ConfigCommand): idempotent, and it works on a cluster formatted before the listener was added.
   */
  private async ensureSaslUsers(report: Report): Promise<void> {
    const [first] = this.kafkaNodes;
    const password = this.config.STACK_KAFKA_SASL_PASSWORD;
    // One mechanism per call: the tool refuses to alter one user's credential twice in a request.
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      const result = spawnSync(
        this.java,
        [
          `-Dlog4j2.configurationFile=${join(repoRoot, 'stack', 'log4j2.properties')}`,
          '-cp',
          `${join(this.kafkaHome, 'libs')}/*`,
          'kafka.admin.ConfigCommand',
          '--bootstrap-server',
          `${first!.host}:${first!.port}`,
          '--alter',
          '--add-config',
          `${mechanism}=[password=${password}]`,
          '--entity-type',
          'users',
          '--entity-name',
          this.config.STACK_KAFKA_SASL_USERNAME,
        ],
        { encoding: 'utf8' },
      );
      if (result.status !== 0) throw new Error(`kafka-configs could not create the ${mechanism} user: ${result.stderr || result.stdout}`);
    }
    report(`kafka: SASL_SSL user ${this.config.STACK_KAFKA_SASL_USERNAME} (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) ready`);
  }

  /**
   * The registry's own topics (KafkaSQL journal and snapshots, events), created before it starts with the cluster's
   * replication: Apicurio would create them with one replica, and the journal holds every schema.
   */
  private async ensureRegistryTopics(): Promise<void> {
    const nodes = this.kafkaNodes;
    if (nodes.length === 1) return;
    const { replicationFactor, minInsyncReplicas } = internalReplication(nodes.length);
    const kafka = new Kafka({ brokers: nodes.map((node) => `${node.host}:${node.port}`), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = REGISTRY_TOPICS.filter((topic) => !existing.has(topic)).map((topic) => ({
        topic,
        numPartitions: 1,
        replicationFactor,
        configEntries: [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }],
      }));
      if (topics.length > 0) await admin.createTopics({ topics, waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }

  async registryReady(): Promise<boolean> {
    const response = await fetch(`${this.platform.SCHEMA_REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  }

  private async startRegistry(report: Report): Promise<void> {
    if (await this.registryReady().catch(() => false)) {
      report(`registry: already running at ${this.platform.SCHEMA_REGISTRY_URL}`);
      return;
    }
    await this.ensureRegistryTopics();
    const { host, port } = this.registryAddress;
    // KafkaSQL storage keeps the schemas in the broker itself (like Confluent's _schemas topic), so
    // schema ids survive registry restarts and live exactly as long as the topics that use them.
    const pid = this.startJava(
      'registry',
      [
        `-Xmx${this.config.STACK_REGISTRY_HEAP}`,
        '-XX:+UseSerialGC',
        `-Dquarkus.http.host=${host}`,
        `-Dquarkus.http.port=${port}`,
        '-Dquarkus.management.enabled=false',
        '-Dapicurio.storage.kind=kafkasql',
        `-Dapicurio.kafkasql.bootstrap.servers=${this.kafkaNodes.map((node) => `${node.host}:${node.port}`).join(',')}`,
        '-jar',
        `apicurio-registry-app-${this.versions.apicurio}-runner.jar`,
      ],
      this.registryHome,
    );
    report(`registry: started (pid ${pid}), log ${this.logFile('registry')}`);
    await waitUntil('registry', () => this.registryReady(), this.config.STACK_READY_TIMEOUT_MS);
  }

  /** Creates the database named in DATABASE_URL when the server has no such database yet. */
  async ensureDatabase(): Promise<void> {
    const target = new URL(this.platform.DATABASE_URL);
    const database = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
    const admin = new URL(target);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
  }

  async up(report: Report = () => {}): Promise<ServerStatus[]> {
    this.fetchServers(report);
    await this.startKafka(report);
    await this.startRegistry(report);
    await this.ensureDatabase().catch((error: unknown) => report(`postgres: ${(error as Error).message}`));
    if (this.timescale.enabled) {
      await this.timescale.ensureExtension(report);
      await this.timescale.start(report);
    }
    return this.status();
  }

  /** Stops what `up` started, and nothing else. */
  async down(report: Report = () => {}): Promise<void> {
    // Every broker this state folder started, whatever STACK_BROKERS says now.
    const runDir = join(this.stateDir, 'run');
    const brokers = existsSync(runDir)
      ? readdirSync(runDir)
          .map((file) => /^(kafka(?:-\d+)?)\.pid$/.exec(file)?.[1])
          .filter((name): name is string => name !== undefined)
          .sort()
      : [];
    for (const name of ['registry', ...(brokers.length > 0 ? brokers : ['kafka'])]) {
      const pid = this.managedPid(name);
      if (pid === undefined) {
        report(`${name}: not started by tickflow, left alone`);
        continue;
      }
      process.kill(pid, 'SIGTERM');
      await waitUntil(
        `${name} to stop`,
        async () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        60_000,
      ).catch(() => process.kill(pid, 'SIGKILL'));
      rmSync(this.pidFile(name), { force: true });
      report(`${name}: stopped (pid ${pid})`);
    }
    this.timescale.stop(report);
  }

  async status(): Promise<ServerStatus[]> {
    const servers = [
      ...this.kafkaNodes.map((node) => this.kafkaStatus(node)),
      this.registryStatus(),
      this.postgresStatus(),
      this.redisStatus(),
    ];
    if (this.timescale.enabled) servers.splice(servers.length - 1, 0, this.timescaleStatus());
    return Promise.all(servers);
  }

  private async timescaleStatus(): Promise<ServerStatus> {
    const described = await this.timescale.describe();
    return {
      name: 'timescaledb',
      up: described.up,
      address: this.timescale.url(),
      managed: this.timescale.managedPid() !== undefined,
      ...(described.version ? { version: described.version } : {}),
      ...(described.detail ? { detail: described.detail } : {}),
      ...(described.up
        ? {}
        : { startCommand: `npx tickflow stack up (builds timescaledb ${TIMESCALEDB_VERSION} once, then starts the cluster)` }),
    };
  }

  private async kafkaStatus(node: KafkaNode): Promise<ServerStatus> {
    const managed = this.managedPid(node.name) !== undefined;
    const cluster = await this.describeCluster(node).catch(() => ({ brokers: 0, controller: false }));
    const up = cluster.controller && cluster.brokers >= this.kafkaNodes.length;
    const listeners = [
      `${node.host}:${node.port}`,
      ...(node.saslSslPort !== undefined ? [`SASL_SSL ${node.host}:${node.saslSslPort}`] : []),
    ];
    return {
      name: node.name as ServerStatus['name'],
      up,
      address: listeners.join(', '),
      managed,
      ...(managed ? { version: this.versions.kafka } : {}),
      ...(this.kafkaNodes.length > 1 && cluster.brokers > 0
        ? { detail: `${cluster.brokers} of ${this.kafkaNodes.length} brokers in the cluster` }
        : {}),
      ...(up ? {} : { startCommand: `npx tickflow stack up${this.kafkaNodes.length > 1 ? ` --brokers ${this.kafkaNodes.length}` : ''}` }),
    };
  }

  private async registryStatus(): Promise<ServerStatus> {
    const managed = this.managedPid('registry') !== undefined;
    try {
      const response = await fetch(`${this.registryRoot}/apis/registry/v3/system/info`, { signal: AbortSignal.timeout(2000) });
      const info = (await response.json()) as { version?: string };
      const up = await this.registryReady();
      return {
        name: 'registry',
        up,
        address: this.platform.SCHEMA_REGISTRY_URL,
        managed,
        version: `Apicurio Registry ${info.version ?? '?'}`,
      };
    } catch (error) {
      return {
        name: 'registry',
        up: false,
        address: this.platform.SCHEMA_REGISTRY_URL,
        managed,
        detail: (error as Error).message,
        startCommand: 'npx tickflow stack up',
      };
    }
  }

  private async postgresStatus(): Promise<ServerStatus> {
    const client = new pg.Client({ connectionString: this.platform.DATABASE_URL, connectionTimeoutMillis: 2000 });
    const address = this.platform.DATABASE_URL.replace(/\/\/[^@/]*@/, '//');
    try {
      await client.connect();
      const { rows } = await client.query<{ version: string; timescaledb: string | null; preload: string }>(
        `SELECT current_setting('server_version') AS version,
                (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS timescaledb,
                coalesce(current_setting('shared_preload_libraries', true), '') AS preload`,
      );
      const row = rows[0]!;
      const preloaded = row.preload.split(',').some((name) => name.trim() === 'timescaledb');
      return {
        name: 'postgres',
        up: true,
        address,
        managed: false,
        version: `PostgreSQL ${row.version}`,
        detail: !row.timescaledb
          ? 'timescaledb not installed (plain PostgreSQL schema)'
          : preloaded
            ? `timescaledb ${row.timescaledb} preloaded`
            : `timescaledb ${row.timescaledb} installed, not preloaded (plain PostgreSQL schema)`,
      };
    } catch (error) {
      return {
        name: 'postgres',
        up: false,
        address,
        managed: false,
        detail: (error as Error).message,
        startCommand: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
      };
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async redisStatus(): Promise<ServerStatus> {
    const redis = new Redis(this.platform.REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2000,
    });
    redis.on('error', () => {});
    try {
      await redis.connect();
      const info = await redis.info('server');
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      return { name: 'redis', up: true, address: this.platform.REDIS_URL, managed: false, version: `Redis ${version}` };
    } catch (error) {
      return {
        name: 'redis',
        up: false,
        address: this.platform.REDIS_URL,
        managed: false,
        detail: (error as Error).message,
        startCommand:
          'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
      };
    } finally {
      redis.disconnect();
    }
  }
}

export function formatStatus(statuses: readonly ServerStatus[]): string {
  const lines = statuses.map((server) => {
    const state = server.up ? 'up  ' : 'DOWN';
    const parts = [`${server.name.padEnd(11)} ${state} ${server.address}`];
    if (server.version) parts.push(server.version);
    if (server.managed) parts.push('(started by tickflow)');
    if (server.detail) parts.push(`- ${server.detail}`);
    if (!server.up && server.startCommand) parts.push(`\n          start it with: ${server.startCommand}`);
    return parts.join('  ');
  });
  return lines.join('\n');
}
