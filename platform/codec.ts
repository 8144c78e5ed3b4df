import { readSettingFile, readSettingFiles, type SettingFileReader } from './setting-files.js';
import { Agent as HttpsAgent } from 'node:https';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { ConfigError, defineEnv, env, type EnvSource } from './config.js';
import { TOPIC_KEYS, schemaText, topicName, valueSubject, type TopicKey } from './topics.js';

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro body. */
export const WIRE_MAGIC_BYTE = 0;
const WIRE_HEADER_BYTES = 5;

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

/**
 * True when a decode failed because the schema registry could not be reached (retry later), not because the
 * bytes are bad (skip or reject them).
 */
export function isRegistryUnreachable(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  return /fetch failed|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|socket hang up/i.test(text);
}

/** How the registry client authenticates and which CA it trusts (a managed registry: HTTPS with basic auth). */
export const loadRegistryAccessSettings = defineEnv('platform', {
  SCHEMA_REGISTRY_USERNAME: env.optionalString('Schema registry basic-auth user (or API key)'),
  SCHEMA_REGISTRY_PASSWORD: env.optionalString('Schema registry basic-auth password (or API secret)'),
  SCHEMA_REGISTRY_CA_FILE: env.optionalString("PEM file of the CA that signed an https registry's certificate (default: the system CAs)"),
  SCHEMA_REGISTRY_CERT_FILE: env.optionalString(
    'PEM client certificate for a registry that authenticates clients by TLS (with SCHEMA_REGISTRY_KEY_FILE)',
  ),
  SCHEMA_REGISTRY_KEY_FILE: env.optionalString('PEM private key of SCHEMA_REGISTRY_CERT_FILE'),
});

/** The registry client's credentials and TLS agent, resolved from the settings (files read). */
export interface RegistryAccess {
  readonly auth?: { readonly username: string; readonly password: string };
  /** Set only when the settings name a CA or a client certificate; else Node's defaults. */
  readonly agent?: HttpsAgent;
}

export function registryAccessFrom(
  settings: ReturnType<typeof loadRegistryAccessSettings>,
  readFile: SettingFileReader = readSettingFile,
): RegistryAccess {
  const issues: string[] = [];
  if (Boolean(settings.SCHEMA_REGISTRY_USERNAME) !== Boolean(settings.SCHEMA_REGISTRY_PASSWORD)) {
    issues.push('SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD: set both or neither');
  }
  if (Boolean(settings.SCHEMA_REGISTRY_CERT_FILE) !== Boolean(settings.SCHEMA_REGISTRY_KEY_FILE)) {
    issues.push('SCHEMA_REGISTRY_CERT_FILE and SCHEMA_REGISTRY_KEY_FILE: set both or neither');
  }
  const {
    SCHEMA_REGISTRY_CA_FILE: ca,
    SCHEMA_REGISTRY_CERT_FILE: cert,
    SCHEMA_REGISTRY_KEY_FILE: key,
  } = readSettingFiles(
    {
      SCHEMA_REGISTRY_CA_FILE: settings.SCHEMA_REGISTRY_CA_FILE,
      SCHEMA_REGISTRY_CERT_FILE: settings.SCHEMA_REGISTRY_CERT_FILE,
      SCHEMA_REGISTRY_KEY_FILE: settings.SCHEMA_REGISTRY_KEY_FILE,
    },
    issues,
    readFile,
  );
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    ...(settings.SCHEMA_REGISTRY_USERNAME
      ? { auth: { username: settings.SCHEMA_REGISTRY_USERNAME, password: settings.SCHEMA_REGISTRY_PASSWORD! } }
      : {}),
    ...(ca || cert ? { agent: new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}), ...(cert ? { cert, key: key! } : {}) }) } : {}),
  };
}

export function registryAccessFromEnv(source: EnvSource = process.env): RegistryAccess {
  return registryAccessFrom(loadRegistryAccessSettings(source));
}

/** Thrown for a buffer that is not in the Confluent wire format. */
export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

export function readSchemaId(buffer: Buffer): number {
  if (buffer.length < WIRE_HEADER_BYTES || buffer[0] !== WIRE_MAGIC_BYTE) {
    throw new WireFormatError(`not a Confluent wire-format message (length ${buffer.length}, first byte ${buffer[0]})`);
  }
  return buffer.readUInt32BE(1);
}

interface AvroType {
  toBuffer(value: unknown): Buffer;
  fromBuffer(buffer: Buffer): unknown;
  isValid(value: unknown, options?: { errorHook?: (path: string[]) => void }): boolean;
}

export type Encoder<T> = (value: T) => Buffer;

/**
 * The one codec of the pipeline. Registration and schema look-ups go through
 * @kafkajs/confluent-schema-registry; schema ids and Avro types are cached so that the hot path
 * (`encoderFor` / `decode` of a known id) does no I/O.
 */
export class AvroCodec {
  readonly registry: SchemaRegistry;
  private readonly ids = new Map<string, number>();
  private readonly types = new Map<number, AvroType>();
  private readonly pendingTypes = new Map<number, Promise<AvroType>>();

  /** Basic auth and TLS come from the env (SCHEMA_REGISTRY_USERNAME, _PASSWORD, _CA_FILE, ...) unless `access` is given. */
  constructor(
    private readonly registryUrl: string,
    private readonly topicPrefix: string,
    private readonly access: RegistryAccess = registryAccessFromEnv(),
  ) {
    this.registry = new SchemaRegistry({
      host: registryUrl,
      ...(access.auth ? { auth: { ...access.auth } } : {}),
      ...(access.agent && registryUrl.startsWith('https:') ? { agent: access.agent } : {}),
    });
  }

  topic(key: TopicKey): string {
    return topicName(key, this.topicPrefix);
  }

  /** Sets a subject's compatibility level (the client has no call for it; Apicurio needs it set explicitly). */
  async setCompatibility(subject: string, level: Compatibility): Promise<void> {
    const response = await registryRequest(`${this.registryUrl}/config/${encodeURIComponent(subject)}`, this.access, {
      method: 'PUT',
      body: JSON.stringify({ compatibility: level }),
    });
    if (response.status >= 300) throw new Error(`setting ${level} on ${subject} failed: HTTP ${response.status} ${response.body}`);
  }

  /** Registers a schema under a subject (BACKWARD compatibility set first) and returns its id. */
  async registerSchema(subject: string, schema: string, compatibility: Compatibility = 'BACKWARD'): Promise<number> {
    await this.setCompatibility(subject, compatibility);
    const { id } = await this.registry.register(
      { type: SchemaType.AVRO, schema },
      { subject, compatibility: COMPATIBILITY[compatibility] },
    );
    this.ids.set(subject, id);
    return id;
  }

  /** Registers the schema of every topic in the catalog. */
  async registerAll(keys: readonly TopicKey[] = TOPIC_KEYS): Promise<Record<string, number>> {
    const registered: Record<string, number> = {};
    for (const key of keys) {
      const subject = valueSubject(this.topic(key));
      registered[subject] = await this.registerSchema(subject, schemaText(key));
    }
    return registered;
  }

  /** The id values of a topic are written with: the latest registered for its subject. */
  async schemaIdFor(key: TopicKey): Promise<number> {
    const subject = valueSubject(this.topic(key));
    let id = this.ids.get(subject);
    if (id === undefined) {
      id = await this.registry.getLatestSchemaId(subject);
      this.ids.set(subject, id);
    }
    return id;
  }

  private async typeFor(id: number): Promise<AvroType> {
    const known = this.types.get(id);
    if (known) return known;
    let pending = this.pendingTypes.get(id);
    if (!pending) {
      pending = this.registry.getSchema(id).then((schema) => {
        const type = schema as unknown as AvroType;
        this.types.set(id, type);
        this.pendingTypes.delete(id);
        return type;
      });
      this.pendingTypes.set(id, pending);
    }
    return pending;
  }

  /** A synchronous encoder for one topic's values, ready after one registry look-up. */
  async encoderFor<T>(key: TopicKey): Promise<Encoder<T>> {
    const id = await this.schemaIdFor(key);
    const type = await this.typeFor(id);
    const header = Buffer.alloc(WIRE_HEADER_BYTES);
    header.writeUInt8(WIRE_MAGIC_BYTE, 0);
    header.writeUInt32BE(id, 1);
    return (value: T) => {
      try {
        return Buffer.concat([header, type.toBuffer(value)]);
      } catch {
        // Validate only on failure, so the common path pays for one encode.
        const errors: string[] = [];
        type.isValid(value, { errorHook: (path) => errors.push(path.join('.') || '(root)') });
        throw new TypeError(`value does not match the schema of ${this.topic(key)}: invalid ${errors.join(', ')}`);
      }
    };
  }

  async encode<T>(key: TopicKey, value: T): Promise<Buffer> {
    return (await this.encoderFor<T>(key))(value);
  }

  /** Decodes any wire-format buffer; the writer schema is fetched once per id. */
  async decode<T>(buffer: Buffer): Promise<T> {
    const type = await this.typeFor(readSchemaId(buffer));
    return type.fromBuffer(buffer.subarray(WIRE_HEADER_BYTES)) as T;
  }

  /** Decodes without awaiting when the id is already cached (hot consumer loops); else undefined. */
  decodeCached<T>(buffer: Buffer): T | undefined {
    const type = this.types.get(readSchemaId(buffer));
    return type ? (type.fromBuffer(buffer.subarray(WIRE_HEADER_BYTES)) as T) : undefined;
  }
}

/**
 * One request to the registry with the client's credentials and TLS agent (the registry client has no call for the
 * compatibility level; Node's fetch takes no agent, so node:http(s) it is).
 */
async function registryRequest(
  url: string,
  access: RegistryAccess,
  request: { method: string; body?: string },
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const { request: send } = target.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const headers: Record<string, string> = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
  if (access.auth) headers.authorization = `Basic ${Buffer.from(`${access.auth.username}:${access.auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const outgoing = send(
      target,
      { method: request.method, headers, ...(target.protocol === 'https:' && access.agent ? { agent: access.agent } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`${request.method} ${url}: no answer within 10 s`)));
    outgoing.end(request.body);
  });
}
