import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { defineEnv, env, loadPlatformConfig, type EnvSource } from '../platform/config.js';
import { TIMESCALEDB_VERSION, TimescaleCluster } from './timescaledb.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const loadStackConfig = defineEnv('stack', {
  STACK_DIR: env.string('Where the local stack keeps the servers fetched by Maven', join(repoRoot, '.stack')),
  STACK_STATE_DIR: env.optionalString('Where the local stack keeps data, logs and pid files (default: STACK_DIR)'),
  STACK_KAFKA_HEAP: env.string('JVM heap of the local Kafka broker', '1g'),
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
  readonly name: 'kafka' | 'registry' | 'postgres' | 'timescaledb' | 'redis';
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
  private get kafkaAddress() {
    return hostPort(this.platform.KAFKA_BROKERS[0] ?? '127.0.0.1:9092', 9092);
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

  private managedPid(name: string): number | undefined {
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

  private kafkaProperties(): string {
    const { host, port } = this.kafkaAddress;
    const controllerPort = port + 1;
    return [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${host}:${controllerPort}`,
      `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://${host}:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(this.stateDir, 'data', 'kafka')}`,
      'num.partitions=6',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=10',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      'log.retention.check.interval.ms=60000',
      '',
    ].join('\n');
  }

  async kafkaReady(): Promise<boolean> {
    const { host, port } = this.kafkaAddress;
    if (!(await portOpen(host, port))) return false;
    const kafka = new Kafka({ brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000 });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async registryReady(): Promise<boolean> {
    const response = await fetch(`${this.platform.SCHEMA_REGISTRY_URL}/subjects`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  }

  private async startKafka(report: Report): Promise<void> {
    if (await this.kafkaReady().catch(() => false)) {
      report(`kafka: already running at ${this.platform.KAFKA_BROKERS[0]}`);
      return;
    }
    const dataDir = join(this.stateDir, 'data', 'kafka');
    const properties = join(this.stateDir, 'run', 'server.properties');
    mkdirSync(join(this.stateDir, 'run'), { recursive: true });
    writeFileSync(properties, this.kafkaProperties());
    const classpath = `${join(this.kafkaHome, 'libs')}/*`;
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      const clusterId = newClusterId();
      const format = spawnSync(this.java, ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], {
        encoding: 'utf8',
      });
      if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr || format.stdout}`);
      report(`kafka: formatted storage in ${dataDir} (cluster ${clusterId})`);
    }
    const pid = this.startJava(
      'kafka',
      [
        `-Xmx${this.config.STACK_KAFKA_HEAP}`,
        `-Xms${this.config.STACK_KAFKA_HEAP}`,
        '-XX:+UseG1GC',
        `-Dlog4j2.configurationFile=${join(repoRoot, 'stack', 'log4j2.properties')}`,
        `-Dkafka.logs.dir=${join(this.stateDir, 'logs')}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      this.stateDir,
    );
    report(`kafka: started (pid ${pid}), log ${this.logFile('kafka')}`);
    await waitUntil('kafka', () => this.kafkaReady(), this.config.STACK_READY_TIMEOUT_MS);
  }

  private async startRegistry(report: Report): Promise<void> {
    if (await this.registryReady().catch(() => false)) {
      report(`registry: already running at ${this.platform.SCHEMA_REGISTRY_URL}`);
      return;
    }
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
        `-Dapicurio.kafkasql.bootstrap.servers=${this.platform.KAFKA_BROKERS.join(',')}`,
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
    for (const name of ['registry', 'kafka']) {
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
    const servers = [this.kafkaStatus(), this.registryStatus(), this.postgresStatus(), this.redisStatus()];
    if (this.timescale.enabled) servers.splice(3, 0, this.timescaleStatus());
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

  private async kafkaStatus(): Promise<ServerStatus> {
    const managed = this.managedPid('kafka') !== undefined;
    const up = await this.kafkaReady().catch(() => false);
    return {
      name: 'kafka',
      up,
      address: this.platform.KAFKA_BROKERS.join(','),
      managed,
      ...(managed ? { version: this.versions.kafka } : {}),
      ...(up ? {} : { startCommand: 'npx tickflow stack up' }),
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
