import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parse } from 'yaml';
import { documentedEnv } from '../platform/config.js';
import '../platform/auth.js';
import '../platform/kafka-settings.js';
import '../platform/stage-process.js';
import '../ingest/config.js';
import '../processors/config.js';
import '../projections/projector.js';
import { TESTED_TIMESCALEDB_VERSION } from '../store/migrate.js';
import '../gateway/config.js';
import '../api/config.js';

interface ComposeService {
  image?: string;
  ports?: string[];
  volumes?: string[];
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
}

const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
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

const brokers = Object.keys(services).filter((name) => services[name]!.image?.startsWith('apache/kafka:'));

/** Services run with `--scale`: partition-bound (processors, projector) or stateless behind the balancer (gateway, api). */
const SCALED_SERVICES = ['processors', 'projector', 'gateway', 'api'];

/** A named volume mounted at `target` in a service, if any. */
function namedVolumeAt(service: ComposeService, target: string): string | undefined {
  for (const mount of service.volumes ?? []) {
    const [source, path] = mount.split(':');
    if (path === target && source && !source.startsWith('.') && !source.startsWith('/')) return source;
  }
  return undefined;
}

describe('docker-compose.yml as a deployment', () => {
  it('runs a cluster of three brokers, each with its log dir on its own named volume', () => {
    expect(brokers).toHaveLength(3);
    const volumes = brokers.map((broker) => {
      const environment = services[broker]!.environment!;
      const logDirs = String(environment.KAFKA_LOG_DIRS);
      expect(logDirs, broker).toMatch(/^\//);
      const volume = namedVolumeAt(services[broker]!, logDirs);
      expect(volume, `${broker}: KAFKA_LOG_DIRS on a named volume`).toBeDefined();
      expect(Object.keys(compose.volumes)).toContain(volume);
      return volume;
    });
    expect(new Set(volumes).size).toBe(brokers.length);
  });

  it('replicates the pipeline topics, the internal topics and the schemas as many times as there are brokers (up to 3)', () => {
    const replicas = String(Math.min(3, brokers.length));
    const minIsr = brokers.length >= 3 ? '2' : '1';
    for (const broker of brokers) {
      const environment = services[broker]!.environment!;
      expect(String(environment.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR), broker).toBe(replicas);
      expect(String(environment.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR), broker).toBe(replicas);
      expect(String(environment.KAFKA_DEFAULT_REPLICATION_FACTOR), broker).toBe(replicas);
      expect(String(environment.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR), broker).toBe(minIsr);
      expect(String(environment.KAFKA_MIN_INSYNC_REPLICAS), broker).toBe(minIsr);
      expect(String(environment.KAFKA_CONTROLLER_QUORUM_VOTERS).split(',')).toHaveLength(brokers.length);
    }
    expect(String(services['schema-registry']!.environment!.SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR)).toBe(replicas);
    for (const name of Object.keys(STAGE_SERVICES).filter((service) => service !== 'simulator')) {
      const environment = services[name]!.environment!;
      expect(String(environment.KAFKA_REPLICATION_FACTOR), name).toBe(replicas);
      expect(String(environment.KAFKA_MIN_INSYNC_REPLICAS), name).toBe(minIsr);
      expect(
        String(environment.KAFKA_BROKERS)
          .split(',')
          .map((address) => address.split(':')[0])
          .sort(),
        name,
      ).toEqual([...brokers].sort());
    }
  });

  it('gives tools on the host a listener on every broker', () => {
    for (const broker of brokers) {
      const advertised = String(services[broker]!.environment!.KAFKA_ADVERTISED_LISTENERS);
      const host = /HOST:\/\/\$\{KAFKA_HOST_ADDRESS:-127\.0\.0\.1\}:(\d+)/.exec(advertised)?.[1];
      expect(host, broker).toBeDefined();
      expect(services[broker]!.ports, broker).toContain(`${host}:${host}`);
    }
  });

  it('publishes no fixed host port on a scaled service, and balances gateway and API', () => {
    for (const name of SCALED_SERVICES) expect(services[name]!.ports, name).toBeUndefined();
    // Ingest is one writer: a second instance runs as a standby under its lease, never as a second writer.
    expect(services.ingest!.ports).toBeUndefined();
    expect(String(services.ingest!.environment!.INGEST_LEASE)).toBe('true');
    expect(services.ingest!.deploy?.replicas).toBe(2);
    const balancer = services.balancer!;
    expect(balancer.ports).toEqual(expect.arrayContaining(['3000:3000', '3001:3001']));
    const config = readFileSync(new URL('../deploy/haproxy.cfg', import.meta.url), 'utf8');
    expect(config).toMatch(/server-template api \d+ api:3000/);
    expect(config).toMatch(/server-template gateway \d+ gateway:3001/);
  });

  it('binds the ops servers for probes and keeps Redis on a named volume', () => {
    for (const name of ['ingest', 'processors', 'projector']) expect(services[name]!.environment!.OPS_HOST, name).toBe('0.0.0.0');
    expect(namedVolumeAt(services.redis!, '/data')).toBeDefined();
  });
});

describe('docker-compose.yml', () => {
  it('has every server the pipeline needs, each with a health check', () => {
    for (const broker of brokers) expect(services[broker]?.image).toMatch(/^apache\/kafka:4\./);
    expect(services['schema-registry']?.image).toMatch(/schema-registry/);
    // The version CI tests (the stack's own build, TESTED_TIMESCALEDB_VERSION) on the PostgreSQL major it runs on.
    expect(services.timescaledb?.image).toBe(`timescale/timescaledb:${TESTED_TIMESCALEDB_VERSION}-pg15`);
    expect(services.redis?.image).toMatch(/^redis:7/);
    for (const name of [...brokers, 'schema-registry', 'timescaledb', 'redis']) expect(services[name]?.healthcheck, name).toBeDefined();
  });

  it('runs one service per stage with the subcommand, health check and dependencies', () => {
    for (const [name, expected] of Object.entries(STAGE_SERVICES)) {
      const service = services[name];
      expect(service, name).toBeDefined();
      expect(service!.command?.[0], name).toBe(expected.command);
      if (name !== 'setup') expect(service!.healthcheck, name).toBeDefined();
      const servers = [...brokers, 'redis', 'schema-registry', 'timescaledb'].sort();
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

/** The Dockerfile's instructions, continuation lines joined, comments dropped, grouped by stage. */
function dockerStages(text: string): { from: string; name: string | undefined; instructions: { op: string; args: string }[] }[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: ReturnType<typeof dockerStages> = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

describe('Dockerfile', () => {
  const text = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
  const stages = dockerStages(text);
  const runtime = stages.at(-1)!;
  const all = (op: string) => stages.flatMap((stage) => stage.instructions.filter((instruction) => instruction.op === op));
  const of = (stage: (typeof stages)[number], op: string) => stage.instructions.filter((instruction) => instruction.op === op);

  it('is multi-stage on a pinned Node 24 base where native uWS loads (Debian 13: glibc 2.38+)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(base).toMatch(/^node:24\.\d+\.\d+-trixie-slim(@sha256:[0-9a-f]{64})?$/);
    for (const stage of stages) expect(stage.from).toBe('${NODE_IMAGE}');
  });

  it('builds without Docker Hub from a local base with the same Node (deploy/build-image.sh, deploy/trixie-rootfs.sh)', () => {
    const version = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-/m.exec(text)?.[1];
    const script = new URL('../deploy/trixie-rootfs.sh', import.meta.url);
    expect(execFileSync(fileURLToPath(script), ['--node-version'], { encoding: 'utf8' }).trim()).toBe(version);
    const build = readFileSync(new URL('../deploy/build-image.sh', import.meta.url), 'utf8').replace(/\\\n\s*/g, ' ');
    expect(build).toMatch(/buildah build .*--pull=never .*--build-arg NODE_IMAGE="\$base"/);
  });

  it('builds in one stage and runs the compiled dist/ with production dependencies only', () => {
    const build = stages.find((stage) => of(stage, 'RUN').some((run) => run.args.includes('npm run build')));
    expect(build?.name).toBeDefined();
    expect(of(runtime, 'COPY').map((copy) => copy.args)).toContain(`--from=${build!.name} /src/dist ./dist`);
    const modules = of(runtime, 'COPY').find((copy) => copy.args.endsWith('./node_modules'));
    const from = stages.find((stage) => modules?.args.includes(`--from=${stage.name} `));
    expect(of(from!, 'RUN').some((run) => /npm ci --omit=dev/.test(run.args))).toBe(true);
    // Of the uWS binaries (one per platform and Node ABI), only the one this platform and Node load.
    expect(
      of(from!, 'RUN').some((run) =>
        /process\.versions\.modules.*find node_modules -name 'uws_\*\.node' ! -name "\$binary" -delete/.test(run.args),
      ),
    ).toBe(true);
    expect(of(runtime, 'ENV').map((env) => env.args)).toContain('NODE_ENV=production');
    expect(of(runtime, 'ENTRYPOINT')[0]?.args).toMatch(/"node", "dist\/bin\/tickflow\.js"\]$/);
    expect(runtime.instructions.map((instruction) => instruction.args).join('\n')).not.toMatch(/\btsx\b/);
  });

  it('copies into the build stage every folder the build compiles, and that code imports nothing the context leaves out', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, 'tsconfig.build.json'),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
          throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
        },
      },
    )!;
    const build = stages.find((stage) => of(stage, 'RUN').some((run) => run.args.includes('npm run build')))!;
    const copied = of(build, 'COPY').flatMap((copy) =>
      copy.args
        .split(/\s+/)
        .slice(0, -1)
        .map((source) => source.replace(/^\.\//, '')),
    );
    const folders = new Set(
      config.fileNames
        .map((file) => relative(root, file).split(sep))
        .filter((parts) => parts.length > 1)
        .map(([folder]) => folder!),
    );
    // build.ts also bundles the dashboard (Vite) into dist/.
    for (const folder of [...folders, 'dashboard']) expect(copied, folder).toContain(folder);
    for (const file of config.fileNames) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import\(?)\s*'(\.[^']+)'/g)) {
        const target = relative(root, resolve(dirname(file), specifier!));
        expect(target, `${relative(root, file)} imports ${specifier}`).not.toMatch(/^(test|chaos|bench\/suites)\//);
      }
    }
  });

  it('copies no tests, benchmarks, chaos suite or local state into the image', () => {
    for (const copy of all('COPY')) {
      const sources = copy.args
        .split(/\s+/)
        .filter((word) => !word.startsWith('--'))
        .slice(0, -1);
      for (const source of sources) {
        expect(source, copy.args).not.toMatch(/^\.\/?$|^(test|chaos|bench\/suites|\.stack|\.tickflow)\b/);
        if (!copy.args.startsWith('--from')) expect(existsSync(new URL(`../${source}`, import.meta.url)), source).toBe(true);
      }
    }
    const ignored = readFileSync(new URL('../.dockerignore', import.meta.url), 'utf8').split('\n');
    for (const entry of [
      '.git',
      'node_modules',
      'dist',
      '.stack',
      '.tickflow',
      '**/*.test.ts',
      'test',
      'chaos',
      'bench/suites',
      'bench/results',
    ]) {
      expect(ignored, entry).toContain(entry);
    }
  });

  it('runs as a non-root user under an init that forwards signals, with a health check', () => {
    const user = of(runtime, 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(of(runtime, 'ENTRYPOINT')[0]?.args).toMatch(/^\["\/usr\/bin\/tini", "--",/);
    expect(of(runtime, 'RUN').some((run) => /apt-get install .*\btini\b/.test(run.args))).toBe(true);
    expect(of(runtime, 'HEALTHCHECK')[0]?.args).toMatch(/\/health/);
  });
});
