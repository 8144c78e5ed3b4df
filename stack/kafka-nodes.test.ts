import { describe, expect, it } from 'vitest';
import { internalReplication, kafkaLayout, kafkaNodeProperties } from './kafka-nodes.js';

const addresses = [{ host: '127.0.0.1', port: 19092 }];

describe('the local Kafka layout', () => {
  it('keeps the lone broker where older stacks had it', () => {
    const [node] = kafkaLayout({ addresses: [{ host: '127.0.0.1', port: 9092 }], brokers: 1, stateDir: '/s', saslSsl: true });
    expect(node).toEqual({
      id: 1,
      name: 'kafka',
      host: '127.0.0.1',
      port: 9092,
      controllerPort: 9093,
      saslSslPort: 9094,
      dataDir: '/s/data/kafka',
      propertiesFile: '/s/run/server.properties',
      logsDir: '/s/logs',
    });
  });

  it('gives three nodes consecutive ports, then controllers, then SASL_SSL, and a folder each', () => {
    const nodes = kafkaLayout({ addresses, brokers: 3, stateDir: '/s', saslSsl: true });
    expect(nodes.map((node) => [node.name, node.port, node.controllerPort, node.saslSslPort])).toEqual([
      ['kafka-1', 19092, 19095, 19098],
      ['kafka-2', 19093, 19096, 19099],
      ['kafka-3', 19094, 19097, 19100],
    ]);
    expect(nodes[1]!.dataDir).toBe('/s/data/kafka-2');
    expect(nodes[2]!.logsDir).toBe('/s/logs/kafka-3');
    const listed = kafkaLayout({
      addresses: [...addresses, { host: '127.0.0.1', port: 29000 }],
      brokers: 2,
      stateDir: '/s',
      saslSsl: false,
    });
    expect(listed.map((node) => [node.port, node.saslSslPort])).toEqual([
      [19092, undefined],
      [29000, undefined],
    ]);
  });

  it('replicates the internal topics min(3, brokers) times, two in sync from three', () => {
    expect(internalReplication(1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(internalReplication(3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('writes a combined node with the whole quorum, replication and the SASL_SSL listener', () => {
    const nodes = kafkaLayout({ addresses, brokers: 3, stateDir: '/s', saslSsl: true });
    const text = kafkaNodeProperties(nodes[1]!, nodes, {
      keystorePem: '/s/tls/broker-keystore.pem',
      truststorePem: '/s/tls/ca.pem',
      username: 'tickflow',
      password: 'p"w',
    });
    const lines = text.split('\n');
    expect(lines).toContain('node.id=2');
    expect(lines).toContain('controller.quorum.voters=1@127.0.0.1:19095,2@127.0.0.1:19096,3@127.0.0.1:19097');
    expect(lines).toContain('listeners=PLAINTEXT://127.0.0.1:19093,CONTROLLER://127.0.0.1:19096,SASL_SSL://127.0.0.1:19099');
    expect(lines).toContain('offsets.topic.replication.factor=3');
    expect(lines).toContain('transaction.state.log.min.isr=2');
    expect(lines).toContain('min.insync.replicas=2');
    expect(lines).toContain(
      'listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_tickflow="p\\"w";',
    );
    expect(kafkaNodeProperties(nodes[0]!, nodes)).not.toContain('SASL_SSL');
  });
});
