import { readSettingFile, readSettingFiles, type SettingFileReader } from './setting-files.js';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { ConfigError, defineEnv, env, type EnvSource } from './config.js';

/**
 * How every Kafka client of every stage reaches the cluster (TLS, SASL) and how the pipeline's topics are laid out
 * on it (partitions, replicas). Read from the env by `createKafka`, the @platformatic/kafka clients and `applyTopics`,
 * so a stage needs no setting of its own to talk to a secured, replicated cluster.
 */
export const loadKafkaSettings = defineEnv('platform', {
  KAFKA_SECURITY_PROTOCOL: z
    .enum(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'])
    .default('PLAINTEXT')
    .describe("Kafka's security.protocol for every client: TLS (SSL, SASL_SSL) and/or SASL authentication (SASL_*)"),
  KAFKA_TLS_CA_FILE: env.optionalString("PEM file of the CA(s) that signed the brokers' certificates (default: the system CAs)"),
  KAFKA_TLS_CERT_FILE: env.optionalString('PEM client certificate, for brokers that authenticate clients by TLS (with KAFKA_TLS_KEY_FILE)'),
  KAFKA_TLS_KEY_FILE: env.optionalString('PEM private key of KAFKA_TLS_CERT_FILE'),
  KAFKA_SASL_MECHANISM: z
    .enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'])
    .default('SCRAM-SHA-512')
    .describe('SASL mechanism when KAFKA_SECURITY_PROTOCOL is SASL_*'),
  KAFKA_SASL_USERNAME: env.optionalString('SASL user name (required with SASL_*)'),
  KAFKA_SASL_PASSWORD: env.optionalString('SASL password (required with SASL_*)'),
  KAFKA_PARTITIONS: z.coerce
    .number()
    .int()
    .min(1)
    .default(6)
    .describe(
      'Partitions of every symbol-keyed topic (market data, fundamentals, patterns): co-partitioned, so all alike; the most processor and projector instances that share the work. `topics apply` refuses a mismatch',
    ),
  KAFKA_REPLICATION_FACTOR: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('Replicas of every pipeline topic (default: min(3, brokers in the cluster))'),
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'min.insync.replicas of every pipeline topic: acks=all writes need this many replicas (default: 2 when replicated 3 or more times, else 1)',
    ),
});

export type KafkaSettings = ReturnType<typeof loadKafkaSettings>;

export type SaslMechanism = KafkaSettings['KAFKA_SASL_MECHANISM'];

/** What a client needs to reach a secured cluster, independent of the client library. */
export interface KafkaSecurity {
  /** TLS options (CA, client certificate) when the protocol is SSL or SASL_SSL. */
  readonly tls?: Pick<TlsOptions, 'ca' | 'cert' | 'key'>;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
  /** The protocol, for messages. */
  readonly protocol: KafkaSettings['KAFKA_SECURITY_PROTOCOL'];
}

/** The TLS/SASL options the settings name, with the PEM files read; a ConfigError names what is missing. */
export function kafkaSecurityFrom(settings: KafkaSettings, readFile: SettingFileReader = readSettingFile): KafkaSecurity {
  const protocol = settings.KAFKA_SECURITY_PROTOCOL;
  const issues: string[] = [];
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  if (usesSasl && (!settings.KAFKA_SASL_USERNAME || !settings.KAFKA_SASL_PASSWORD)) {
    issues.push(`KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=${protocol}`);
  }
  if (Boolean(settings.KAFKA_TLS_CERT_FILE) !== Boolean(settings.KAFKA_TLS_KEY_FILE)) {
    issues.push('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: set both or neither');
  }
  if (!usesTls && (settings.KAFKA_TLS_CA_FILE || settings.KAFKA_TLS_CERT_FILE)) {
    issues.push(`KAFKA_TLS_*: set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS (SSL or SASL_SSL)`);
  }
  const {
    KAFKA_TLS_CA_FILE: ca,
    KAFKA_TLS_CERT_FILE: cert,
    KAFKA_TLS_KEY_FILE: key,
  } = readSettingFiles(
    {
      KAFKA_TLS_CA_FILE: settings.KAFKA_TLS_CA_FILE,
      KAFKA_TLS_CERT_FILE: settings.KAFKA_TLS_CERT_FILE,
      KAFKA_TLS_KEY_FILE: settings.KAFKA_TLS_KEY_FILE,
    },
    issues,
    readFile,
  );
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    protocol,
    ...(usesTls ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } } : {}),
    ...(usesSasl
      ? {
          sasl: {
            mechanism: settings.KAFKA_SASL_MECHANISM,
            username: settings.KAFKA_SASL_USERNAME!,
            password: settings.KAFKA_SASL_PASSWORD!,
          },
        }
      : {}),
  };
}

/** The security of the process's env. */
export function kafkaSecurityFromEnv(source: EnvSource = process.env): KafkaSecurity {
  return kafkaSecurityFrom(loadKafkaSettings(source));
}

/** kafkajs's `ssl` and `sasl` client options. */
export function kafkajsSecurityOptions(security: KafkaSecurity): {
  ssl?: TlsOptions;
  sasl?: SASLOptions;
} {
  return {
    ...(security.tls ? { ssl: { ...security.tls } } : {}),
    ...(security.sasl
      ? {
          // kafkajs spells the mechanisms in lower case; the three are one union member each.
          sasl: {
            mechanism: security.sasl.mechanism.toLowerCase(),
            username: security.sasl.username,
            password: security.sasl.password,
          } as SASLOptions,
        }
      : {}),
  };
}

/** @platformatic/kafka's `tls` and `sasl` client options. */
export function platformaticSecurityOptions(security: KafkaSecurity = kafkaSecurityFromEnv()): {
  tls?: TlsOptions;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
} {
  return {
    ...(security.tls ? { tls: { ...security.tls } } : {}),
    ...(security.sasl ? { sasl: { ...security.sasl } } : {}),
  };
}

/** Replicas and min.insync.replicas of the pipeline's topics on a cluster of `brokers` brokers. */
export function topicReplication(settings: Pick<KafkaSettings, 'KAFKA_REPLICATION_FACTOR' | 'KAFKA_MIN_INSYNC_REPLICAS'>, brokers: number) {
  const replicationFactor = settings.KAFKA_REPLICATION_FACTOR ?? Math.max(1, Math.min(3, brokers));
  const minInsyncReplicas = settings.KAFKA_MIN_INSYNC_REPLICAS ?? (replicationFactor >= 3 ? 2 : 1);
  const issues: string[] = [];
  if (replicationFactor > brokers) issues.push(`KAFKA_REPLICATION_FACTOR=${replicationFactor}: the cluster has ${brokers} broker(s)`);
  if (minInsyncReplicas > replicationFactor) {
    issues.push(
      `KAFKA_MIN_INSYNC_REPLICAS=${minInsyncReplicas}: more than the ${replicationFactor} replicas, so no acks=all write could succeed`,
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { replicationFactor, minInsyncReplicas };
}

/** Thrown when the brokers refuse the client's credentials or the client does not trust the brokers: retrying cannot help. */
export class KafkaAccessError extends Error {
  override name = 'KafkaAccessError';
}

const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The errors an error wraps (kafkajs: `originalError`, `cause`; @platformatic/kafka: `errors`). */
function errorChain(error: unknown): { name?: string; message?: string; code?: string }[] {
  const chain: { name?: string; message?: string; code?: string }[] = [];
  const visit = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || depth > 5) return;
    const entry = value as { name?: string; message?: string; code?: string; cause?: unknown; originalError?: unknown; errors?: unknown };
    chain.push(entry);
    visit(entry.originalError, depth + 1);
    visit(entry.cause, depth + 1);
    if (Array.isArray(entry.errors)) for (const inner of entry.errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return chain;
}

/**
 * Why a connection failure is one no retry can fix (credentials refused, broker certificate not trusted, TLS spoken to
 * a plaintext port), as a one-line hint naming the settings to check; undefined for a transient failure.
 */
export function kafkaAccessFailure(error: unknown, security: KafkaSecurity): string | undefined {
  for (const entry of errorChain(error)) {
    const message = entry.message ?? '';
    if (
      entry.name === 'KafkaJSSASLAuthenticationError' ||
      /authentication failed|SaslAuthenticationException|invalid credentials/i.test(message)
    ) {
      const who = security.sasl ? ` for user '${security.sasl.username}' (${security.sasl.mechanism})` : '';
      return `SASL authentication failed${who}: ${message.replace(/\s+/g, ' ')}; check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM`;
    }
    if (entry.code && TLS_TRUST_CODES.has(entry.code)) {
      return `the broker's TLS certificate is not trusted (${entry.code}: ${message.replace(/^Connection error: /, '')}); check KAFKA_TLS_CA_FILE`;
    }
    if (/wrong version number|EPROTO|packet length too long/i.test(`${entry.code ?? ''} ${message}`)) {
      return `the broker does not speak TLS on this port (${message}); check KAFKA_SECURITY_PROTOCOL and KAFKA_BROKERS`;
    }
  }
  return undefined;
}
