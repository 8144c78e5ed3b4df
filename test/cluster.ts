import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, createLogger, type Kafka } from '../platform/index.js';
import { LocalStack } from '../stack/local-stack.js';

/**
 * The Kafka clusters that the `cluster` test project and the replication bench run beside the shared single-broker
 * stack: their own ports and registry, their own temporary state folder, nothing shared with the stack on 9092 but the
 * Kafka and Apicurio downloads (STACK_DIR). Three brokers on 19092-19094 (controllers and SASL_SSL above them, registry
 * 18081); one broker on 29092 (controller 29093, registry 28081), the single-broker side of the replication bench.
 */
export interface TestClusterShape {
  readonly brokers: readonly string[];
  readonly registryUrl: string;
}

const TEST_CLUSTER_BROKERS = ['127.0.0.1:19092', '127.0.0.1:19093', '127.0.0.1:19094'];
export const THREE_BROKERS: TestClusterShape = {
  brokers: TEST_CLUSTER_BROKERS,
  registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7',
};
export const ONE_BROKER: TestClusterShape = { brokers: ['127.0.0.1:29092'], registryUrl: 'http://127.0.0.1:28081/apis/ccompat/v7' };

/** The env of `tickflow stack` (LocalStack) for a test cluster in `stateDir`, with `extra` over it. */
export function testClusterEnv(
  stateDir: string,
  extra: Record<string, string> = {},
  shape: TestClusterShape = THREE_BROKERS,
): Record<string, string> & { readonly KAFKA_BROKERS: string; readonly SCHEMA_REGISTRY_URL: string } {
  return {
    ...(process.env as Record<string, string>),
    STACK_STATE_DIR: stateDir,
    STACK_BROKERS: String(shape.brokers.length),
    STACK_KAFKA_HEAP: '512m',
    STACK_TIMESCALE: 'false',
    KAFKA_BROKERS: shape.brokers.join(','),
    SCHEMA_REGISTRY_URL: shape.registryUrl,
    ...extra,
  };
}

/** What the stages and tests set to use a test cluster: its brokers and registry; three replicas with two in sync on three. */
function testClusterClientEnv(shape: TestClusterShape = THREE_BROKERS): Record<string, string> {
  const replicas = Math.min(3, shape.brokers.length);
  return {
    KAFKA_BROKERS: shape.brokers.join(','),
    SCHEMA_REGISTRY_URL: shape.registryUrl,
    KAFKA_REPLICATION_FACTOR: String(replicas),
    KAFKA_MIN_INSYNC_REPLICAS: replicas >= 3 ? '2' : '1',
  };
}

/** The test cluster's life cycle and its faults: a broker killed, stopped, restarted. */
export class TestCluster {
  readonly stateDir = mkdtempSync(join(tmpdir(), 'tickflow-cluster-'));
  readonly stack: LocalStack;
  readonly kafka: Kafka;
  private watchdogPid: number | undefined;

  constructor(
    readonly shape: TestClusterShape = THREE_BROKERS,
    extra: Record<string, string> = {},
  ) {
    this.stack = new LocalStack(testClusterEnv(this.stateDir, extra, shape));
    this.kafka = createKafka({
      brokers: [...shape.brokers],
      clientId: 'test-cluster',
      logger: createLogger('test-cluster', { level: 'error' }),
      security: { protocol: 'PLAINTEXT' },
    });
  }

  async up(report: (line: string) => void = () => {}): Promise<void> {
    this.watchdogPid ??= startWatchdog(process.pid, this.stateDir, this.shape.brokers.join(','));
    await this.stack.up(report);
  }

  async down(report: (line: string) => void = () => {}): Promise<void> {
    try {
      await this.stack.down(report);
    } finally {
      rmSync(this.stateDir, { recursive: true, force: true });
      if (this.watchdogPid !== undefined) {
        try {
          process.kill(this.watchdogPid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        this.watchdogPid = undefined;
      }
    }
  }

  /** What the stages and tests set to use this cluster. */
  get clientEnv(): Record<string, string> {
    return testClusterClientEnv(this.shape);
  }

  /** The broker ids, 1..n. */
  get nodeIds(): number[] {
    return this.stack.kafkaNodes.map((node) => node.id);
  }

  /** The pid of broker `id` while it runs. */
  pidOf(id: number): number | undefined {
    const node = this.stack.kafkaNodes.find((entry) => entry.id === id);
    return node === undefined ? undefined : this.stack.managedPid(node.name);
  }

  /** Sends `signal` to broker `id` and resolves once its process is gone. */
  async stopNode(id: number, signal: NodeJS.Signals): Promise<void> {
    const pid = this.pidOf(id);
    if (pid === undefined) throw new Error(`broker ${id} is not running`);
    process.kill(pid, signal);
    const gone = () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    const deadline = Date.now() + 120_000;
    while (!gone()) {
      if (Date.now() > deadline) throw new Error(`broker ${id} (pid ${pid}) did not stop`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Starts every broker that is down again, and resolves once all three are back in the cluster. */
  async restartStopped(report: (line: string) => void = () => {}): Promise<void> {
    await this.stack.up(report);
  }

  /** The leader of each partition of `topic`, by partition. */
  async leaders(topic: string): Promise<Map<number, number>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      return new Map(metadata.topics[0]!.partitions.map((partition) => [partition.partitionId, partition.leader]));
    } finally {
      await admin.disconnect();
    }
  }

  /** The broker leading the most partitions of `topic`. */
  async busiestLeader(topic: string): Promise<number> {
    const counts = new Map<number, number>();
    for (const leader of (await this.leaders(topic)).values()) counts.set(leader, (counts.get(leader) ?? 0) + 1);
    const [busiest] = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    if (!busiest) throw new Error(`${topic} has no partition leaders`);
    return busiest[0];
  }

  /** Partitions of every topic whose in-sync replicas are fewer than their replicas (0 once the cluster has caught up). */
  async underReplicatedPartitions(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: await admin.listTopics() });
      return metadata.topics.flatMap((topic) => topic.partitions).filter((partition) => partition.isr.length < partition.replicas.length)
        .length;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * The broker coordinating `transactionalId`: the leader of its partition of `__transaction_state`, which Kafka picks
   * as abs(Java hashCode of the id) modulo the topic's partition count (TransactionStateManager.partitionFor).
   */
  async transactionCoordinator(transactionalId: string): Promise<number> {
    const partitions = await this.leaders('__transaction_state');
    if (partitions.size === 0) throw new Error('the cluster has no __transaction_state yet (no transactional producer has started)');
    const leader = partitions.get(transactionStatePartition(transactionalId, partitions.size));
    if (leader === undefined) throw new Error(`no leader for the transaction state of ${transactionalId}`);
    return leader;
  }
}

/**
 * A detached shell that outlives the test process: once `parentPid` is gone (a failed run, Ctrl-C, vitest killing its
 * worker), it stops every server whose pid file is in `stateDir`/run, first SIGTERM then SIGKILL, and removes the
 * folder. A hook in this process cannot do that: a SIGKILLed worker runs none, and the JVMs are detached. It only signals
 * a pid whose command line names this cluster (its state folder or its broker list), so a reused pid, or the shared
 * stack's broker on 9092, is never touched.
 */
function startWatchdog(parentPid: number, stateDir: string, brokers: string): number | undefined {
  const script = `
ours() { [ -r /proc/$1/cmdline ] && tr '\\0' ' ' < /proc/$1/cmdline | grep -qF -e "$STATE_DIR" -e "$BROKERS"; }
signal_all() { for f in "$STATE_DIR"/run/*.pid; do [ -f "$f" ] || continue; p=$(cat "$f"); ours "$p" && kill -"$1" "$p" 2>/dev/null; done; }
trap 'exit 0' TERM
while kill -0 "$PARENT" 2>/dev/null; do sleep 1; done
signal_all TERM
for i in $(seq 1 30); do alive=0; for f in "$STATE_DIR"/run/*.pid; do [ -f "$f" ] && ours "$(cat "$f")" && alive=1; done; [ $alive = 0 ] && break; sleep 1; done
signal_all KILL
rm -rf "$STATE_DIR"
`;
  const child = spawn('sh', ['-c', script], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', PARENT: String(parentPid), STATE_DIR: stateDir, BROKERS: brokers },
  });
  child.unref();
  return child.pid;
}

/** Java's String.hashCode (UTF-16 code units), as Kafka hashes a transactional id. */
function javaStringHash(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

/** The `__transaction_state` partition of a transactional id (Kafka's Utils.abs: the absolute value, 0 for MIN_VALUE). */
export function transactionStatePartition(transactionalId: string, partitions: number): number {
  const hash = javaStringHash(transactionalId);
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions;
}
