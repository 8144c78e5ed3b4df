import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { defineEnv, env, type EnvSource } from '../platform/config.js';
import { TESTED_TIMESCALEDB_VERSION } from '../store/migrate.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The TimescaleDB version the project tests, owned by the migrations (2.28.x is the last line for PostgreSQL 15). */
export const TIMESCALEDB_VERSION = TESTED_TIMESCALEDB_VERSION;
export const POSTGRES_MAJOR = 15;

export const loadTimescaleStackConfig = defineEnv('stack', {
  STACK_TIMESCALE: env.bool('Whether `stack up` builds (once) and starts the local TimescaleDB cluster', true),
  STACK_TIMESCALE_PORT: env.int('Port of the local TimescaleDB cluster (the machine PostgreSQL keeps 5432)', 5433),
  STACK_TIMESCALE_SOURCE: env.optionalString(
    `TimescaleDB source tarball built when the extension is missing (default: ../shared/vendor/timescaledb-${TIMESCALEDB_VERSION}.tar.gz beside the repo), checked against the SHA256SUMS beside it`,
  ),
  STACK_PG_BINDIR: env.string('Binaries of the PostgreSQL the TimescaleDB cluster runs on', `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`),
});

type Report = (line: string) => void;

export interface ExtensionFiles {
  readonly library: string;
  readonly script: string;
}

/** Where `make install` puts the extension for a PostgreSQL whose pg_config reports these directories. */
export function extensionFiles(pkglibdir: string, sharedir: string, version = TIMESCALEDB_VERSION): ExtensionFiles {
  return { library: join(pkglibdir, `timescaledb-${version}.so`), script: join(sharedir, 'extension', `timescaledb--${version}.sql`) };
}

/** The hash SHA256SUMS gives for `file`, or undefined when it lists no such file. */
export function expectedSha256(sums: string, file: string): string | undefined {
  for (const line of sums.split('\n')) {
    const match = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
    if (match && match[2] === file) return match[1];
  }
  return undefined;
}

/**
 * Progress of a CMake build from its output: the largest "[ NN%]" seen in `chunk`, or undefined.
 * CMake prints the percentage of targets done at the start of each line.
 */
export function buildPercent(chunk: string): number | undefined {
  let best: number | undefined;
  for (const match of chunk.matchAll(/^\[\s*(\d{1,3})%\]/gm)) best = Math.max(best ?? 0, Number(match[1]));
  return best;
}

/** postgresql.conf lines of the local TimescaleDB cluster. */
export function clusterSettings(port: number, socketDir: string): string {
  return [
    '# Written by `tickflow stack up`.',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${socketDir}'`,
    "shared_preload_libraries = 'timescaledb'",
    "timescaledb.telemetry_level = 'off'",
    // Integration tests open many pools at once, and every database has its own background jobs.
    'max_connections = 300',
    'max_worker_processes = 32',
    'timescaledb.max_background_workers = 16',
    'shared_buffers = 256MB',
    "timezone = 'UTC'",
    '',
  ].join('\n');
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function check(result: SpawnSyncReturns<string>, what: string): string {
  if (result.error) throw new Error(`${what}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/**
 * The local TimescaleDB: the extension built from the vendored source into the machine's PostgreSQL 15 (once per
 * machine), and a cluster of the stack's own (data under the state folder, its own port, the library preloaded,
 * telemetry off), run as the `postgres` OS user when tickflow runs as root. The machine's cluster on 5432 is never
 * touched: it keeps serving the plain path.
 */
export class TimescaleCluster {
  readonly config;

  constructor(
    private readonly stateDir: string,
    source: EnvSource = process.env,
  ) {
    this.config = loadTimescaleStackConfig(source);
  }

  get enabled(): boolean {
    return this.config.STACK_TIMESCALE;
  }
  get port(): number {
    return this.config.STACK_TIMESCALE_PORT;
  }
  get dataDir(): string {
    return join(this.stateDir, 'data', 'timescaledb');
  }
  get logFile(): string {
    return join(this.stateDir, 'logs', 'timescaledb.log');
  }
  get buildLog(): string {
    return join(this.stateDir, 'logs', 'timescaledb-build.log');
  }
  get tarball(): string {
    return this.config.STACK_TIMESCALE_SOURCE ?? join(repoRoot, '..', 'shared', 'vendor', `timescaledb-${TIMESCALEDB_VERSION}.tar.gz`);
  }
  /** A connection string to the cluster's `database`. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }
  private bin(name: string): string {
    return join(this.config.STACK_PG_BINDIR, name);
  }
  private get asRoot(): boolean {
    return process.getuid?.() === 0;
  }

  /** Runs a PostgreSQL binary as the `postgres` OS user when we are root (the server refuses to run as root). */
  private runAsPostgres(command: string, args: string[]): SpawnSyncReturns<string> {
    const [file, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    return spawnSync(file, argv, { encoding: 'utf8' });
  }

  private pgConfig(option: '--pkglibdir' | '--sharedir'): string {
    return check(spawnSync(this.bin('pg_config'), [option], { encoding: 'utf8' }), `pg_config ${option}`).trim();
  }

  /** True when the extension of the tested version is installed in the PostgreSQL of STACK_PG_BINDIR. */
  extensionInstalled(): boolean {
    if (!existsSync(this.bin('pg_config'))) return false;
    const files = extensionFiles(this.pgConfig('--pkglibdir'), this.pgConfig('--sharedir'));
    return existsSync(files.library) && existsSync(files.script);
  }

  /** The server headers (Debian's postgresql-server-dev-15), installed with apt when missing and we are root. */
  private ensureBuildDependencies(report: Report): void {
    const headers = `/usr/include/postgresql/${POSTGRES_MAJOR}/server/postgres.h`;
    if (existsSync(headers)) return;
    if (!this.asRoot) {
      throw new Error(
        `building TimescaleDB needs the PostgreSQL ${POSTGRES_MAJOR} server headers: run \`apt-get install -y postgresql-server-dev-${POSTGRES_MAJOR}\` as root`,
      );
    }
    report(`timescaledb: installing postgresql-server-dev-${POSTGRES_MAJOR} (server headers) with apt-get`);
    const log = openSync(this.buildLog, 'a');
    try {
      for (const args of [['update'], ['install', '-y', '--no-install-recommends', `postgresql-server-dev-${POSTGRES_MAJOR}`]]) {
        const result = spawnSync('apt-get', args, {
          stdio: ['ignore', log, log],
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        });
        if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed; see ${this.buildLog}`);
      }
    } finally {
      closeSync(log);
    }
  }

  /** Checks the tarball against the SHA256SUMS beside it: a build runs only from the source the project vetted. */
  async verifySource(): Promise<void> {
    const tarball = this.tarball;
    if (!existsSync(tarball))
      throw new Error(`TimescaleDB source not found at ${tarball} (set STACK_TIMESCALE_SOURCE, or STACK_TIMESCALE=false to skip it)`);
    const sumsFile = join(dirname(tarball), 'SHA256SUMS');
    if (!existsSync(sumsFile)) throw new Error(`no SHA256SUMS beside ${tarball}: refusing to build an unverified source`);
    const expected = expectedSha256(readFileSync(sumsFile, 'utf8'), basename(tarball));
    if (!expected) throw new Error(`${sumsFile} lists no ${basename(tarball)}`);
    const actual = await sha256Of(tarball);
    if (actual !== expected) throw new Error(`${tarball} has sha256 ${actual}, SHA256SUMS says ${expected}: refusing to build it`);
  }

  /** Runs one build step with its output appended to the build log; reports CMake's progress in steps of 10%. */
  private async step(what: string, command: string, args: string[], cwd: string, report: Report): Promise<void> {
    const log = openSync(this.buildLog, 'a');
    writeFileSync(log, `\n$ ${command} ${args.join(' ')}\n`);
    let reported = -10;
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        const onData = (chunk: Buffer) => {
          writeFileSync(log, chunk);
          const percent = buildPercent(chunk.toString('utf8'));
          if (percent !== undefined && percent >= reported + 10) {
            reported = percent - (percent % 10);
            report(`timescaledb: ${what} ${percent}%`);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('error', reject);
        child.once('close', (code) =>
          code === 0 ? resolve() : reject(new Error(`timescaledb ${what} failed (exit ${code}); see ${this.buildLog}`)),
        );
      });
    } finally {
      closeSync(log);
    }
  }

  /** Builds and installs the extension from the vendored source when the tested version is not installed yet. */
  async ensureExtension(report: Report = () => {}): Promise<void> {
    if (this.extensionInstalled()) return;
    mkdirSync(dirname(this.buildLog), { recursive: true });
    writeFileSync(this.buildLog, `TimescaleDB ${TIMESCALEDB_VERSION} build, ${new Date().toISOString()}\n`);
    const started = Date.now();
    report(
      `timescaledb: extension ${TIMESCALEDB_VERSION} not installed; building it from ${this.tarball} (once per machine: 1.5 minutes on 2 quiet cores, far longer on busy ones), log ${this.buildLog}`,
    );
    await this.verifySource();
    this.ensureBuildDependencies(report);
    const scratch = mkdtempSync(join(tmpdir(), 'tickflow-timescaledb-'));
    try {
      check(spawnSync('tar', ['xzf', this.tarball, '-C', scratch], { encoding: 'utf8' }), 'tar');
      const sourceDir = join(scratch, `timescaledb-${TIMESCALEDB_VERSION}`);
      const jobs = String(Math.max(1, availableParallelism()));
      await this.step(
        'configure',
        './bootstrap',
        ['-DREGRESS_CHECKS=OFF', '-DTAP_CHECKS=OFF', '-DWARNINGS_AS_ERRORS=OFF', `-DPG_CONFIG=${this.bin('pg_config')}`],
        sourceDir,
        report,
      );
      await this.step('compile', 'make', ['-j', jobs], join(sourceDir, 'build'), report);
      await this.step('install', 'make', ['install'], join(sourceDir, 'build'), report);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    if (!this.extensionInstalled())
      throw new Error(`the build finished but timescaledb ${TIMESCALEDB_VERSION} is not installed; see ${this.buildLog}`);
    report(`timescaledb: extension ${TIMESCALEDB_VERSION} built and installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }

  /** The postmaster's pid from its pid file, when it is alive. */
  managedPid(): number | undefined {
    const file = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  async ready(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Creates the cluster (once) and starts it; reuses one already running on the port. */
  async start(report: Report = () => {}, options: { preload?: boolean } = {}): Promise<void> {
    if (await this.ready()) {
      report(`timescaledb: already running at 127.0.0.1:${this.port}`);
      return;
    }
    const owner = this.asRoot ? spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim() || undefined : undefined;
    const ownerGroup = this.asRoot ? spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim() : undefined;
    const chown = (path: string) => {
      if (owner && ownerGroup) chownSync(path, Number(owner), Number(ownerGroup));
    };
    mkdirSync(dirname(this.logFile), { recursive: true });
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      // Only the data folder is private; its parents must stay traversable by the `postgres` user.
      mkdirSync(dirname(this.dataDir), { recursive: true });
      mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
      chown(this.dataDir);
      if (this.runAsPostgres('test', ['-w', this.dataDir]).status !== 0) {
        throw new Error(
          `the postgres OS user cannot write to ${this.dataDir}: make its parent folders traversable (chmod o+x) or set STACK_STATE_DIR`,
        );
      }
      check(
        this.runAsPostgres(this.bin('initdb'), [
          '-D',
          this.dataDir,
          '-U',
          'postgres',
          '--auth=trust',
          '--encoding=UTF8',
          '--locale=C.UTF-8',
        ]),
        'initdb',
      );
      report(`timescaledb: created the cluster in ${this.dataDir}`);
    }
    const settings = clusterSettings(this.port, this.dataDir);
    writeFileSync(
      join(this.dataDir, 'tickflow.conf'),
      options.preload === false ? settings.replace(/^shared_preload_libraries.*$/m, '') : settings,
    );
    chown(join(this.dataDir, 'tickflow.conf'));
    const conf = join(this.dataDir, 'postgresql.conf');
    if (!readFileSync(conf, 'utf8').includes("include_if_exists = 'tickflow.conf'")) {
      writeFileSync(conf, `${readFileSync(conf, 'utf8')}\ninclude_if_exists = 'tickflow.conf'\n`);
    }
    if (!existsSync(this.logFile)) writeFileSync(this.logFile, '');
    chown(this.logFile);
    check(this.runAsPostgres(this.bin('pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '120', 'start']), 'pg_ctl start');
    report(
      `timescaledb: started PostgreSQL ${POSTGRES_MAJOR} with timescaledb preloaded at 127.0.0.1:${this.port} (pid ${this.managedPid() ?? '?'}), log ${this.logFile}`,
    );
  }

  /**
   * Stops the cluster this stack started: `fast` ends the sessions and checkpoints; `immediate` is a crash (recovery
   * from the WAL at the next start), used by the tests of a server restart mid-projection.
   */
  stop(report: Report = () => {}, mode: 'fast' | 'immediate' = 'fast'): void {
    if (this.managedPid() === undefined) {
      report('timescaledb: not running from this stack, left alone');
      return;
    }
    check(this.runAsPostgres(this.bin('pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', 'stop']), 'pg_ctl stop');
    report(`timescaledb: stopped (${this.dataDir})`);
  }

  /** The server version and the installed/available extension version, or why it is not reachable. */
  async describe(): Promise<{ up: boolean; version?: string; detail?: string }> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      const { rows } = await client.query<{ version: string; available: string | null; preload: string }>(
        `SELECT current_setting('server_version') AS version,
                (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
                current_setting('shared_preload_libraries') AS preload`,
      );
      const row = rows[0]!;
      const preloaded = row.preload
        .split(',')
        .map((name) => name.trim())
        .includes('timescaledb');
      return {
        up: true,
        version: `PostgreSQL ${row.version}`,
        detail: row.available ? `timescaledb ${row.available}${preloaded ? ' preloaded' : ' NOT preloaded'}` : 'timescaledb not installed',
      };
    } catch (error) {
      return { up: false, detail: (error as Error).message };
    } finally {
      await client.end().catch(() => {});
    }
  }
}
