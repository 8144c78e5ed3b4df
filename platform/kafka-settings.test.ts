import { describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import {
  kafkaAccessFailure,
  kafkajsSecurityOptions,
  kafkaSecurityFrom,
  loadKafkaSettings,
  platformaticSecurityOptions,
  topicReplication,
} from './kafka-settings.js';

const files: Record<string, string> = { '/ca.pem': 'CA', '/client.pem': 'CERT', '/client.key': 'KEY' };
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  return text;
};

describe('Kafka client security settings', () => {
  it('is plaintext without settings', () => {
    const security = kafkaSecurityFrom(loadKafkaSettings({}), readFile);
    expect(security).toEqual({ protocol: 'PLAINTEXT' });
    expect(kafkajsSecurityOptions(security)).toEqual({});
    expect(platformaticSecurityOptions(security)).toEqual({});
  });

  it('maps SASL_SSL with a CA and a client certificate to both libraries', () => {
    const security = kafkaSecurityFrom(
      loadKafkaSettings({
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_TLS_CA_FILE: '/ca.pem',
        KAFKA_TLS_CERT_FILE: '/client.pem',
        KAFKA_TLS_KEY_FILE: '/client.key',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        KAFKA_SASL_USERNAME: 'tickflow',
        KAFKA_SASL_PASSWORD: 'secret',
      }),
      readFile,
    );
    expect(kafkajsSecurityOptions(security)).toEqual({
      ssl: { ca: 'CA', cert: 'CERT', key: 'KEY' },
      sasl: { mechanism: 'scram-sha-256', username: 'tickflow', password: 'secret' },
    });
    expect(platformaticSecurityOptions(security)).toEqual({
      tls: { ca: 'CA', cert: 'CERT', key: 'KEY' },
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'tickflow', password: 'secret' },
    });
  });

  it('uses the system CAs for SSL without a CA file, and SASL without TLS for SASL_PLAINTEXT', () => {
    expect(kafkaSecurityFrom(loadKafkaSettings({ KAFKA_SECURITY_PROTOCOL: 'SSL' }), readFile)).toEqual({ protocol: 'SSL', tls: {} });
    const plain = kafkaSecurityFrom(
      loadKafkaSettings({
        KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
        KAFKA_SASL_MECHANISM: 'PLAIN',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      }),
      readFile,
    );
    expect(kafkajsSecurityOptions(plain)).toEqual({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
  });

  it('names every inconsistent or unreadable setting', () => {
    const attempt = () =>
      kafkaSecurityFrom(
        loadKafkaSettings({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_TLS_CA_FILE: '/missing.pem', KAFKA_TLS_CERT_FILE: '/client.pem' }),
        readFile,
      );
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: required[\s\S]*set both or neither[\s\S]*KAFKA_TLS_CA_FILE: cannot read \/missing.pem \(ENOENT\)/,
    );
    expect(() => kafkaSecurityFrom(loadKafkaSettings({ KAFKA_TLS_CA_FILE: '/ca.pem' }), readFile)).toThrow(/does not use TLS/);
  });
});

describe('topic replication', () => {
  it('defaults to min(3, brokers) replicas and 2 in sync from 3 replicas', () => {
    expect(topicReplication({}, 1)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
    expect(topicReplication({}, 2)).toEqual({ replicationFactor: 2, minInsyncReplicas: 1 });
    expect(topicReplication({}, 3)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(topicReplication({}, 5)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(topicReplication({ KAFKA_REPLICATION_FACTOR: 5, KAFKA_MIN_INSYNC_REPLICAS: 3 }, 5)).toEqual({
      replicationFactor: 5,
      minInsyncReplicas: 3,
    });
  });

  it('refuses more replicas than brokers, or more in sync than replicas', () => {
    expect(() => topicReplication({ KAFKA_REPLICATION_FACTOR: 3 }, 1)).toThrow(/the cluster has 1 broker/);
    expect(() => topicReplication({ KAFKA_MIN_INSYNC_REPLICAS: 2 }, 1)).toThrow(/no acks=all write could succeed/);
  });
});

describe('access failures', () => {
  const security = kafkaSecurityFrom(
    loadKafkaSettings({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'tickflow', KAFKA_SASL_PASSWORD: 'x' }),
    readFile,
  );

  it('recognises refused credentials, an untrusted certificate and TLS to a plaintext port, however wrapped', () => {
    const sasl = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    expect(kafkaAccessFailure(sasl, security)).toMatch(
      /^SASL authentication failed for user 'tickflow' \(SCRAM-SHA-512\).*KAFKA_SASL_PASSWORD/,
    );
    const tls = Object.assign(new Error('Connection error: self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(kafkaAccessFailure({ name: 'KafkaJSNonRetriableError', message: 'x', originalError: tls }, security)).toMatch(
      /not trusted \(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain\); check KAFKA_TLS_CA_FILE/,
    );
    expect(kafkaAccessFailure({ errors: [new Error('ssl3_get_record:wrong version number')] }, security)).toMatch(/does not speak TLS/);
  });

  it('leaves transient failures to the retries', () => {
    expect(
      kafkaAccessFailure(Object.assign(new Error('Connection error: connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), security),
    ).toBeUndefined();
    expect(kafkaAccessFailure('text', security)).toBeUndefined();
  });
});
