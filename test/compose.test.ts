import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { documentedEnv } from '../platform/config.js';
import '../platform/auth.js';
import '../ingest/config.js';
import '../processors/config.js';
import '../projections/projector.js';
import { TESTED_TIMESCALEDB_VERSION } from '../store/migrate.js';
import '../gateway/config.js';
import '../api/config.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

/** Which config groups (defineEnv stage names) each stage service reads. */
const STAGE_SERVICES: Record<string, { command: string; groups: string[]; connections: string[] }> = {
  setup: { command: 'setup', groups: ['platform'], connections: ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL'] },
  simulator: { command: 'simulator', groups: ['simulator'], connections: [] },
  ingest: {
    command: 'ingest',
    groups: ['platform', 'ingest', 'massive'],
    connections: ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'MASSIVE_WS_URL'],
  },
  processors: { command: 'process', groups: ['platform', 'processors'], connections: ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL'] },
  projector: {
    command: 'project',
    groups: ['platform', 'projections'],
    connections: ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL', 'REDIS_URL'],
  },
  gateway: {
    command: 'gateway',
    groups: ['platform', 'gateway', 'auth'],
    connections: ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'DATABASE_URL', 'REDIS_URL', 'JWT_SECRET'],
  },
  api: { command: 'api', groups: ['platform', 'api', 'auth'], connections: ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET'] },
};

describe('docker-compose.yml', () => {
  it('has every server the pipeline needs, each with a health check', () => {
    expect(services.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(services['schema-registry']?.image).toMatch(/schema-registry/);
    // The version CI tests (the stack's own build, TESTED_TIMESCALEDB_VERSION) on the PostgreSQL major it runs on.
    expect(services.timescaledb?.image).toBe(`timescale/timescaledb:${TESTED_TIMESCALEDB_VERSION}-pg15`);
    expect(services.redis?.image).toMatch(/^redis:7/);
    for (const name of ['kafka', 'schema-registry', 'timescaledb', 'redis']) expect(services[name]?.healthcheck, name).toBeDefined();
  });

  it('runs one service per stage with the subcommand, health check and dependencies', () => {
    for (const [name, expected] of Object.entries(STAGE_SERVICES)) {
      const service = services[name];
      expect(service, name).toBeDefined();
      expect(service!.command?.[0], name).toBe(expected.command);
      if (name !== 'setup') expect(service!.healthcheck, name).toBeDefined();
      const servers = ['kafka', 'redis', 'schema-registry', 'timescaledb'];
      if (name === 'setup') expect(Object.keys(service!.depends_on ?? {}).sort()).toEqual(servers);
      else if (name !== 'simulator') {
        expect(Object.keys(service!.depends_on ?? {}).sort(), name).toEqual([...servers, 'setup'].sort());
        expect(service!.depends_on!.setup!.condition).toBe('service_completed_successfully');
      }
    }
  });

  it('points every stage at the compose servers, never at localhost', () => {
    for (const [name, expected] of Object.entries(STAGE_SERVICES)) {
      const environment = services[name]!.environment ?? {};
      for (const variable of expected.connections) {
        expect(environment[variable], `${name}.${variable}`).toBeDefined();
        expect(String(environment[variable]), `${name}.${variable}`).not.toMatch(/127\.0\.0\.1|localhost/);
      }
    }
  });

  it('sets every variable the code requires (no default) and names only variables the code reads', () => {
    const documented = documentedEnv();
    const known = new Set(documented.map((entry) => entry.name));
    for (const [name, expected] of Object.entries(STAGE_SERVICES)) {
      const environment = services[name]!.environment ?? {};
      for (const entry of documented.filter((candidate) => expected.groups.includes(candidate.stage) && candidate.required)) {
        expect(environment[entry.name], `${name}.${entry.name}`).toBeDefined();
      }
      for (const variable of Object.keys(environment))
        expect(known.has(variable), `${name}.${variable} is not read by the code`).toBe(true);
    }
  });
});
