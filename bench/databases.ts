import type { Figure } from './harness.js';
import { testServerUrl, type TestServer } from '../test/postgres.js';

/** The storage paths a database bench measures, side by side in one run. */
export const BENCH_DATABASES: readonly TestServer[] = ['plain', 'timescale'];

/**
 * Which paths to measure: `--set db=plain`, `--set db=timescale` or `--set db=plain,timescale` (the default: both,
 * the machine's PostgreSQL on DATABASE_URL and the stack's TimescaleDB cluster on STACK_TIMESCALE_PORT).
 */
export function benchDatabases(settings: Readonly<Record<string, string>>): TestServer[] {
  const wanted = (settings.db ?? BENCH_DATABASES.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  for (const name of wanted) {
    if (!BENCH_DATABASES.includes(name as TestServer)) throw new RangeError(`db=${name}: expected plain, timescale or plain,timescale`);
  }
  return [...new Set(wanted)] as TestServer[];
}

/** The server's URL for a database named `name`. */
export function benchDatabaseUrl(server: TestServer, name: string): string {
  const url = new URL(testServerUrl(server));
  url.pathname = `/${name}`;
  return url.toString();
}

/** The migrations' mode for a path: each path is forced, so a bench never measures the other one by accident. */
export function timescaleMode(server: TestServer): 'on' | 'off' {
  return server === 'timescale' ? 'on' : 'off';
}

/** Figures of one path, named with it (`[plain] ...`, `[timescale] ...`) so both sit in one table. */
export function pathFigures(server: TestServer, figures: readonly Figure[]): Figure[] {
  return figures.map((figure) => ({ ...figure, name: `[${server}] ${figure.name}` }));
}
