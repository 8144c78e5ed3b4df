import { join } from 'node:path';

/**
 * The local Kafka cluster's layout: which node listens where and keeps what, and each node's server.properties.
 * Pure, so the layout and the replication rules are tested without starting a JVM.
 *
 * Every node is broker and controller at once (KRaft combined mode): three JVMs instead of six on a shared laptop,
 * and a quorum of three voters still survives one node down. Production clusters dedicate their controllers; the
 * docker-compose deployment and docs/SCALING.md say so.
 */
export interface KafkaNode {
  readonly id: number;
  /** Pid file, log file and status name: `kafka` for a lone broker (the names older stacks used), else `kafka-<id>`. */
  readonly name: string;
  readonly host: string;
  /** PLAINTEXT listener: the stages' default, tools, the registry and the brokers among themselves. */
  readonly port: number;
  readonly controllerPort: number;
  /** SASL_SSL listener, when the stack runs one. */
  readonly saslSslPort?: number;
  readonly dataDir: string;
  readonly propertiesFile: string;
  readonly logsDir: string;
}

export interface KafkaLayoutOptions {
  /** KAFKA_BROKERS: the first address, or one per node. */
  readonly addresses: readonly { host: string; port: number }[];
  readonly brokers: number;
  readonly stateDir: string;
  readonly saslSsl: boolean;
}

/**
 * Node i listens on the i-th address of KAFKA_BROKERS (or the first address's port + i when fewer are listed); its
 * controller on that port + brokers, and its SASL_SSL listener on that port + 2 × brokers. A lone broker on 9092
 * keeps its controller on 9093 and gets SASL_SSL on 9094; three on 19092-19094 get 19095-19097 and 19098-19100.
 */
export function kafkaLayout(options: KafkaLayoutOptions): KafkaNode[] {
  const first = options.addresses[0] ?? { host: '127.0.0.1', port: 9092 };
  const lone = options.brokers === 1;
  return Array.from({ length: options.brokers }, (_, index) => {
    const id = index + 1;
    const address = options.addresses[index] ?? { host: first.host, port: first.port + index };
    return {
      id,
      name: lone ? 'kafka' : `kafka-${id}`,
      host: address.host,
      port: address.port,
      controllerPort: address.port + options.brokers,
      ...(options.saslSsl ? { saslSslPort: address.port + 2 * options.brokers } : {}),
      dataDir: join(options.stateDir, 'data', lone ? 'kafka' : `kafka-${id}`),
      propertiesFile: join(options.stateDir, 'run', lone ? 'server.properties' : `server-${id}.properties`),
      logsDir: lone ? join(options.stateDir, 'logs') : join(options.stateDir, 'logs', `kafka-${id}`),
    };
  });
}

/** Replicas of the internal topics (offsets, transactions) and their min.insync.replicas, as for the pipeline's topics. */
export function internalReplication(brokers: number): { replicationFactor: number; minInsyncReplicas: number } {
  const replicationFactor = Math.min(3, brokers);
  return { replicationFactor, minInsyncReplicas: replicationFactor >= 3 ? 2 : 1 };
}

/** TLS files and the user of the SASL_SSL listener. */
export interface SaslSslListener {
  readonly keystorePem: string;
  readonly truststorePem: string;
  readonly username: string;
  readonly password: string;
}

/** A value of a JAAS option, quoted (the password of the local user; no quotes or backslashes expected, escaped anyway). */
function jaasQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function kafkaNodeProperties(node: KafkaNode, nodes: readonly KafkaNode[], saslSsl?: SaslSslListener): string {
  const { replicationFactor, minInsyncReplicas } = internalReplication(nodes.length);
  const listeners = [`PLAINTEXT://${node.host}:${node.port}`, `CONTROLLER://${node.host}:${node.controllerPort}`];
  const advertised = [`PLAINTEXT://${node.host}:${node.port}`];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  const secure: string[] = [];
  if (saslSsl && node.saslSslPort !== undefined) {
    listeners.push(`SASL_SSL://${node.host}:${node.saslSslPort}`);
    advertised.push(`SASL_SSL://${node.host}:${node.saslSslPort}`);
    protocols.push('SASL_SSL:SASL_SSL');
    const prefix = 'listener.name.sasl_ssl';
    secure.push(
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      // PLAIN users live in the JAAS config; SCRAM users in the cluster metadata (created with kafka-configs at `stack up`).
      `${prefix}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${saslSsl.username}=${jaasQuoted(saslSsl.password)};`,
      `${prefix}.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
      `${prefix}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
      `${prefix}.ssl.keystore.type=PEM`,
      `${prefix}.ssl.keystore.location=${saslSsl.keystorePem}`,
      `${prefix}.ssl.truststore.type=PEM`,
      `${prefix}.ssl.truststore.location=${saslSsl.truststorePem}`,
      // A client certificate signed by the stack's CA is checked when one is sent; SASL still authenticates the user.
      `${prefix}.ssl.client.auth=requested`,
    );
  }
  return [
    'process.roles=broker,controller',
    `node.id=${node.id}`,
    `controller.quorum.voters=${nodes.map((voter) => `${voter.id}@${voter.host}:${voter.controllerPort}`).join(',')}`,
    `listeners=${listeners.join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=${protocols.join(',')}`,
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${node.dataDir}`,
    'num.partitions=6',
    `default.replication.factor=${replicationFactor}`,
    `min.insync.replicas=${minInsyncReplicas}`,
    `offsets.topic.replication.factor=${replicationFactor}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${replicationFactor}`,
    `transaction.state.log.min.isr=${minInsyncReplicas}`,
    'transaction.state.log.num.partitions=10',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.retention.check.interval.ms=60000',
    ...secure,
    '',
  ].join('\n');
}
