import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from './browser.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from './postgres.js';

/**
 * Issue 8's "done when": `npm start` itself (isolated by topic prefix, database, Redis prefix and ports) shows
 * patterns arriving on the dashboard's live feed, and Ctrl-C (SIGINT to the whole foreground process group, as a terminal
 * sends it) stops everything cleanly. Issue 18 (item 11): the default run has reference data, daily bars and
 * fundamentals. Issue 25: a second `npm start` on the same stack shows new patterns.
 */
describe('npm start', () => {
  let database: TestDatabase;
  let start: ChildProcess;
  let browser: Browser;
  let output: string[] = [];
  const prefix = `e2e.${randomBytes(3).toString('hex')}.`;
  const redisPrefix = uniqueRedisPrefix('e2e');
  const ports = {
    SIMULATOR_PORT: '28765',
    INGEST_OPS_PORT: '29464',
    PROCESSOR_OPS_PORT: '29465',
    PROJECTOR_OPS_PORT: '29466',
    GATEWAY_PORT: '23001',
    API_PORT: '23000',
  };
  const api = `http://127.0.0.1:${ports.API_PORT}`;

  /** `npm start` on the test's isolated stack; its output lines go to `output`. */
  function run(extraEnv: Record<string, string> = {}): ChildProcess {
    output = [];
    const lines = output;
    const child = spawn('npm', ['start'], {
      detached: true,
      env: {
        ...process.env,
        ...ports,
        TOPIC_PREFIX: prefix,
        DATABASE_URL: database.url,
        REDIS_KEY_PREFIX: redisPrefix,
        API_REDIS_PREFIX: `${redisPrefix}api:`,
        PROCESSOR_GROUP_ID: `${prefix}processors`,
        PROJECTOR_GROUP_PREFIX: `${prefix}projections.`,
        START_KEEP_STACK: 'true',
        START_SIMULATOR_RATE: '2000',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
    return child;
  }

  /** Ctrl-C, as a terminal sends it; resolves once every stage has stopped. */
  async function interrupt(child: ChildProcess): Promise<void> {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    process.kill(-child.pid!, 'SIGINT');
    // npm ends by the signal it forwarded (a terminal shows no error); tickflow start itself exits 0 after
    // stopping every stage in reverse order.
    expect([
      { code: 0, signal: null },
      { code: null, signal: 'SIGINT' },
    ]).toContainEqual(await exited);
    await vi.waitFor(
      () => {
        for (const stage of ['api', 'gateway', 'projector', 'processors', 'ingest', 'simulator'])
          expect(output).toContain(`[supervisor] ${stage} stopped`);
      },
      { timeout: 60_000, interval: 250 },
    );
    expect(output.some((line) => line.includes('crashed'))).toBe(false);
    // Issue 22: normal operation is quiet. Transient broker answers are at debug (and counted), the idempotence
    // warning is answered by the producers' retry setting, and npm start picks its storage path without a warning.
    expect(
      output.filter((line) => /^\[\w+\]\s+\d\d:\d\d:\d\d (WARN|ERROR|FATAL)/.test(line) || /^tickflow migrate .*:/.test(line)),
    ).toEqual([]);
  }

  /** Pattern events the (current) processors process has produced. */
  async function patternEventsProduced(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${ports.PROCESSOR_OPS_PORT}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('tickflow_processor_events_total{') && line.includes('patterns.events.v1"'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  beforeAll(async () => {
    database = await createTestDatabase('e2e');
    start = run();
    browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    try {
      if (start?.pid !== undefined) process.kill(-start.pid, 'SIGKILL');
    } catch {
      // the group is gone already: everything stopped
    }
    await database?.drop();
  });

  it(
    'shows patterns on the dashboard live feed within a minute of the link appearing, then stops cleanly on Ctrl-C',
    { timeout: 420_000 },
    async () => {
      const link = await vi.waitFor(
        () => {
          const line = output.find((entry) => entry.includes('live feed (as the local demo user)'));
          if (!line) throw new Error(`no live-feed link yet:\n${output.slice(-5).join('\n')}`);
          return /(http:\/\/\S+)/.exec(line)![1]!;
        },
        { timeout: 180_000, interval: 250 },
      );
      const page = await browser.newPage();
      await page.goto(link);
      await page.waitForSelector('[data-testid=connection][data-state=open]', { timeout: 30_000 });
      await page.waitForSelector('[data-testid=feed] tr', { timeout: 60_000 });
      const first = await page.$eval('[data-testid=feed] tr', (row) =>
        [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? ''),
      );
      expect(first[2]).toMatch(/^[a-z_]+$/); // a pattern name
      expect(first[7]).toMatch(/^\d+:\d+$/); // its log position
      await page.screenshot({ path: '/tmp/tickflow-npm-start-live-page.png' });
      await page.close();

      // The dashboard API serves the same patterns from the projections, to the demo account's key (market data
      // needs a credential: issue 18).
      const apiKey = new URLSearchParams(new URL(link).hash.slice(1)).get('apiKey')!;
      expect((await fetch(`http://127.0.0.1:${ports.API_PORT}/api/patterns/scan`)).status).toBe(401);
      await vi.waitFor(
        async () => {
          const scan = (await (
            await fetch(`http://127.0.0.1:${ports.API_PORT}/api/patterns/scan?confidence_min=0`, { headers: { 'x-api-key': apiKey } })
          ).json()) as { data: unknown[] };
          expect(scan.data.length).toBeGreaterThan(0);
        },
        { timeout: 60_000, interval: 500 },
      );

      // The default run is complete: the start backfilled reference data, daily bars and fundamentals from the simulator.
      await vi.waitFor(
        () => expect(output.some((line) => line.includes('reference data:') && line.includes('from the simulator'))).toBe(true),
        { timeout: 120_000, interval: 250 },
      );
      await vi.waitFor(
        async () => {
          const symbols = (await (await fetch(`${api}/api/symbols?limit=1000`, { headers: { 'x-api-key': apiKey } })).json()) as {
            data: { ticker: string; sector: string | null }[];
          };
          expect(symbols.data.length).toBeGreaterThan(100);
          expect(symbols.data.filter((symbol) => symbol.sector !== null).length).toBeGreaterThan(50);
          const detail = (await (await fetch(`${api}/api/symbols/AAPL`, { headers: { 'x-api-key': apiKey } })).json()) as {
            data: { sector: string | null };
            fundamentals: { eps: number | null } | null;
          };
          expect(detail.data.sector).toEqual(expect.any(String));
          expect(detail.fundamentals?.eps).toEqual(expect.any(Number));
          const daily = (await (
            await fetch(`${api}/api/symbols/AAPL/bars?interval=1d&limit=500`, { headers: { 'x-api-key': apiKey } })
          ).json()) as { data: unknown[] };
          expect(daily.data.length).toBeGreaterThan(200);
        },
        { timeout: 120_000, interval: 1000 },
      );
      const sector = (
        (await (await fetch(`${api}/api/symbols/AAPL`, { headers: { 'x-api-key': apiKey } })).json()) as { data: { sector: string } }
      ).data.sector;
      const scan = (await (
        await fetch(`${api}/api/patterns/scan?confidence_min=0&sectors=${encodeURIComponent(sector)}`, { headers: { 'x-api-key': apiKey } })
      ).json()) as { data: unknown[] };
      expect(Array.isArray(scan.data)).toBe(true);

      await interrupt(start);
    },
  );

  it('shows new patterns in a second run on the same stack: the simulated clock resumes after the log', { timeout: 420_000 }, async () => {
    start = run();
    await vi.waitFor(() => expect(output.some((line) => line.includes('simulated clock: resumes at'))).toBe(true), {
      timeout: 120_000,
      interval: 250,
    });
    // New pattern events from this run's processors, within a minute of their start.
    await vi.waitFor(async () => expect(await patternEventsProduced()).toBeGreaterThan(0), { timeout: 180_000, interval: 1000 });
    await interrupt(start);
  });

  it('refuses an explicit SIMULATOR_START older than the log, saying why', { timeout: 180_000 }, async () => {
    start = run({ SIMULATOR_START: '2025-01-02T15:00:00Z' });
    const exited = await new Promise<number | null>((resolve) => start.once('exit', (code) => resolve(code)));
    expect(exited).not.toBe(0);
    expect(output.some((line) => line.includes('SIMULATOR_START=2025-01-02T15:00:00Z is before the latest bar already in the log'))).toBe(
      true,
    );
  });
});
