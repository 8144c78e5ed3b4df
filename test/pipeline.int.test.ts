import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from './browser.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from './postgres.js';

/**
 * Issue 8's "done when": `npm start` itself (isolated by topic prefix, database, Redis prefix and ports) shows
 * patterns arriving on the live page, and Ctrl-C (SIGINT to the whole foreground process group, as a terminal
 * sends it) stops everything cleanly.
 */
describe('npm start', () => {
  let database: TestDatabase;
  let start: ChildProcess;
  let browser: Browser;
  const output: string[] = [];
  const prefix = `e2e.${randomBytes(3).toString('hex')}.`;
  const redisPrefix = uniqueRedisPrefix('e2e');
  const ports = { SIMULATOR_PORT: '28765', INGEST_OPS_PORT: '29464', PROCESSOR_OPS_PORT: '29465', PROJECTOR_OPS_PORT: '29466', GATEWAY_PORT: '23001', API_PORT: '23000' };

  beforeAll(async () => {
    database = await createTestDatabase('e2e');
    start = spawn('npm', ['start'], {
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
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [start.stdout!, start.stderr!]) stream.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n')));
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

  it('shows patterns on the live page within a minute of the link appearing, then stops cleanly on Ctrl-C', { timeout: 420_000 }, async () => {
    const link = await vi.waitFor(
      () => {
        const line = output.find((entry) => entry.includes('live page (signed in'));
        if (!line) throw new Error(`no live-page link yet:\n${output.slice(-5).join('\n')}`);
        return /(http:\/\/\S+)/.exec(line)![1]!;
      },
      { timeout: 180_000, interval: 250 },
    );
    const page = await browser.newPage();
    await page.goto(link);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'open', undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length > 0, undefined, { timeout: 60_000 });
    const first = await page.$eval('#rows tr', (row) => [...row.querySelectorAll('td')].map((cell) => cell.textContent ?? ''));
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
        const scan = (await (await fetch(`http://127.0.0.1:${ports.API_PORT}/api/patterns/scan?confidence_min=0`, { headers: { 'x-api-key': apiKey } })).json()) as { data: unknown[] };
        expect(scan.data.length).toBeGreaterThan(0);
      },
      { timeout: 60_000, interval: 500 },
    );

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => start.once('exit', (code, signal) => resolve({ code, signal })));
    process.kill(-start.pid!, 'SIGINT');
    // npm ends by the signal it forwarded (a terminal shows no error); tickflow start itself exits 0 after
    // stopping every stage in reverse order.
    expect([{ code: 0, signal: null }, { code: null, signal: 'SIGINT' }]).toContainEqual(await exited);
    await vi.waitFor(() => {
      for (const stage of ['api', 'gateway', 'projector', 'processors', 'ingest', 'simulator']) expect(output).toContain(`[supervisor] ${stage} stopped`);
    }, { timeout: 60_000, interval: 250 });
    expect(output.some((line) => line.includes('crashed'))).toBe(false);
  });
});
