import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patternEvents } from '../test/record-fixtures.js';
import { CHROMIUM_ARGS, ensureChromium } from '../test/browser.js';
import type { GatewayHandle } from './index.js';
import { createGatewayTestEnv, type GatewayTestEnv, type TestUser } from './testing.js';

let env: GatewayTestEnv;
let gateway: GatewayHandle;
let user: TestUser;
let browser: Browser;

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-page');
  user = await env.createUser();
  gateway = await env.start();
  browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await env?.cleanup();
});

describe('live page', () => {
  it('shows pattern events as they arrive, through the bundled SDK, in headless Chromium', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${gateway.port}/#apiKey=${encodeURIComponent(user.apiKey)}`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'open');
    const events = patternEvents(12, 21);
    await env.produce(
      'patterns',
      events.map((value) => ({ key: value.symbol, value })),
    );
    await page.waitForFunction((count) => document.querySelectorAll('#rows tr').length === count, events.length);
    const symbols = await page.$$eval('#rows tr td:nth-child(2)', (cells) => cells.map((cell) => cell.textContent));
    expect(symbols.sort()).toEqual(events.map((value) => value.symbol).sort());
    expect(await page.textContent('#count')).toBe(String(events.length));
    expect(await page.textContent('#cursor')).toMatch(/^c1\./);
    await page.screenshot({ path: '/tmp/tickflow-gateway-live-page.png' });
    expect(errors).toEqual([]);

    // A wrong credential shows the failure instead of retrying forever.
    await page.fill('#credential', 'not-a-token');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('failed'));
    await page.close();
  });

  it('starts from a snapshot when asked: one row per active pattern, marked as a state', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${gateway.port}/#from=snapshot&apiKey=${encodeURIComponent(user.apiKey)}`);
    await page.waitForFunction(() => document.getElementById('snapshot')?.textContent?.startsWith('snapshot:'));
    // The first test's events, folded: the gateway's rings hold them all, so the snapshot comes from memory.
    const last = new Map<string, { kind: string; symbol: string }>();
    for (const value of patternEvents(12, 21)) last.set(value.patternId, value);
    const active = [...last.values()].filter((value) => value.kind !== 'EXPIRED');
    expect(await page.textContent('#snapshot')).toBe(`snapshot: ${active.length} active patterns (from kafka)`);
    const rows = await page.$$eval('#rows tr', (trs) =>
      trs.map((tr) => ({ symbol: tr.children[1]!.textContent, position: (tr as HTMLElement).dataset.position })),
    );
    expect(rows.map((row) => row.symbol).sort()).toEqual(active.map((value) => value.symbol).sort());
    expect(rows.every((row) => row.position === 'snapshot')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
