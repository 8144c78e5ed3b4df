import { z } from 'zod';

/** Where configuration is read from; `process.env` in production, a plain object in tests. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface EnvVarDoc {
  readonly stage: string;
  readonly name: string;
  readonly description: string;
  readonly defaultValue: string | undefined;
  /** True when the variable has no default and must be set. */
  readonly required: boolean;
}

const documented = new Map<string, EnvVarDoc>();
const schemas = new Map<string, z.ZodType>();

/** Thrown when an env var does not parse; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function defaultOf(schema: z.ZodType): string | undefined {
  const parsed = schema.safeParse(undefined);
  if (!parsed.success || parsed.data === undefined) return undefined;
  return String(parsed.data);
}

/**
 * Declares a stage's env vars (zod schemas with `.describe()`) and returns a loader for them.
 * Every declared var is recorded so that `tickflow config` and the README table list them all.
 */
export function defineEnv<Shape extends Record<string, z.ZodType>>(stage: string, shape: Shape) {
  for (const [name, schema] of Object.entries(shape)) {
    documented.set(name, {
      stage,
      name,
      description: schema.description ?? '',
      defaultValue: defaultOf(schema),
      required: !schema.safeParse(undefined).success,
    });
    schemas.set(name, schema);
  }
  const object = z.object(shape);
  return (env: EnvSource = process.env): z.infer<typeof object> => {
    const picked: Record<string, string | undefined> = {};
    for (const name of Object.keys(shape)) {
      const value = env[name];
      picked[name] = value === '' ? undefined : value;
    }
    const parsed = object.safeParse(picked);
    if (!parsed.success) {
      throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
    }
    return parsed.data;
  };
}

/** All env vars declared so far, sorted by stage then name. */
export function documentedEnv(): EnvVarDoc[] {
  return [...documented.values()].sort((a, b) => a.stage.localeCompare(b.stage) || a.name.localeCompare(b.name));
}

/**
 * The declared variables that are set in `env` but would not parse, each as `NAME: what is wrong` (the loaders'
 * form); unset ones are left to the stage that requires them. `tickflow config` reports them.
 */
export function invalidEnv(env: EnvSource = process.env): string[] {
  const issues: string[] = [];
  for (const [name, schema] of [...schemas].sort(([a], [b]) => a.localeCompare(b))) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const parsed = schema.safeParse(value);
    if (!parsed.success) issues.push(...parsed.error.issues.map((issue) => `${name}: ${issue.message}`));
  }
  return issues;
}

/** Helpers for the common shapes of env vars. */
export const env = {
  string: (description: string, fallback: string) => z.string().min(1).default(fallback).describe(description),
  optionalString: (description: string) => z.string().min(1).optional().describe(description),
  int: (description: string, fallback: number) => z.coerce.number().int().default(fallback).describe(description),
  number: (description: string, fallback: number) => z.coerce.number().default(fallback).describe(description),
  bool: (description: string, fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes')
      .describe(description),
  list: (description: string, fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      )
      .describe(description),
  url: (description: string, fallback: string) => z.string().url().default(fallback).describe(description),
};

/** Connection settings that every stage shares. */
export const loadPlatformConfig = defineEnv('platform', {
  KAFKA_BROKERS: env.list('Kafka bootstrap servers, comma separated', '127.0.0.1:9092'),
  SCHEMA_REGISTRY_URL: env.url(
    'Confluent-compatible schema registry base URL (Apicurio: .../apis/ccompat/v7)',
    'http://127.0.0.1:8081/apis/ccompat/v7',
  ),
  DATABASE_URL: env.url('PostgreSQL / TimescaleDB connection string', 'postgres://postgres@127.0.0.1:5432/tickflow'),
  REDIS_URL: env.url('Redis connection string', 'redis://127.0.0.1:6379/0'),
  TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/)
    .default('')
    .describe('Prefix for every topic name (isolates tests or tenants); empty in production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  KAFKA_CLIENT_ID: env.string('Kafka client id prefix', 'tickflow'),
  REDIS_KEY_PREFIX: z
    .string()
    .default('')
    .describe(
      "Prefix before `tf:v1:` of the Redis read model's keys: written by the projector, read by the API and the gateway (isolates tenants/tests)",
    ),
  BENCHMARK_SYMBOL: env.string('Benchmark for relative strength; its bars are broadcast to every aggregate partition', 'SPY'),
});
