import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, startApi, type ApiHandle } from '../api/index.js';
import { createGatewayTestEnv, type GatewayTestEnv } from '../gateway/testing.js';
import type { GatewayHandle } from '../gateway/index.js';
import { startProjector, type PatternEventValue, type ProjectorHandle } from '../projections/index.js';
import { createLogger, loadAuthConfig, loadPlatformConfig, TokenService } from '../platform/index.js';
import { waitUntil } from '../stack/local-stack.js';
import { CHROMIUM_ARGS, ensureChromium } from './browser.js';
import { uniqueRedisPrefix } from './postgres.js';
import { FIXTURE_START_MS, minuteBars, patternEvents } from './record-fixtures.js';

/**
 * The dashboard (dashboard/, served by the API at /app/) in headless Chromium against the real stages: the
 * projector writes what the test produces to Kafka, the API serves scans and bars from PostgreSQL, the gateway
 * streams the same topic live. TICKFLOW_SCREENSHOTS=docs writes the README's screenshots to docs/.
 */
const PATTERNS = patternEvents(24, 31);
const BARS = minuteBars(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'JPM', 'XOM', 'SPY', 'QQQ', 'IWM'], 90);
const EMAIL = `dash-${Date.now()}@example.test`;
const PASSWORD = 'correct horse battery staple';
const screenshots = process.env.TICKFLOW_SCREENSHOTS;

let env: GatewayTestEnv;
let gateway: GatewayHandle;
let projector: ProjectorHandle;
let api: ApiHandle;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let detection = 1000;

/** A new pattern, detected after every fixture (so it is active on the market clock). */
function freshPattern(symbol: string): PatternEventValue {
  const template = PATTERNS.find((value) => value.kind === 'DETECTED')!;
  detection += 1;
  const detectedAtMs = FIXTURE_START_MS + detection * 60_000;
  const patternId = `${symbol}:volume_spike:${detection}:live`;
  return {
    ...template,
    eventId: `${patternId}:DETECTED`,
    kind: 'DETECTED',
    patternId,
    pattern: 'volume_spike',
    symbol,
    tier: 'INTRADAY',
    detectedAtMs,
    expiresAtMs: detectedAtMs + 4 * 3_600_000,
    confidence: 0.99,
  };
}

let token: { value: string; expiresAt: number } | undefined;

/** An access token for the test's own API reads (one login, reused while valid: logins are rate limited per IP). */
async function apiToken(): Promise<string> {
  if (token && Date.now() < token.expiresAt - 30_000) return token.value;
  const response = await fetch(`${api.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  const body = (await response.json()) as { access_token: string; expires_at: string };
  token = { value: body.access_token, expiresAt: Date.parse(body.expires_at) };
  return token.value;
}

async function scanIds(query: string): Promise<string[]> {
  const response = await fetch(`${api.url}/api/patterns/scan?${query}&per_page=30`, {
    headers: { authorization: `Bearer ${await apiToken()}` },
  });
  return ((await response.json()) as { data: { id: string }[] }).data.map((row) => row.id);
}

const shownIds = () => page.$$eval('[data-testid=rows] tr', (rows) => rows.map((row) => (row as HTMLElement).dataset.id));

async function snap(name: string): Promise<void> {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  // The overview's charts run below the fold: its screenshot is of the whole page.
  await page.screenshot({ path: `${screenshots}/dashboard-${name}.png`, fullPage: name === 'overview' });
}

beforeAll(async () => {
  const executablePath = ensureChromium();
  // The API serves dashboard/dist/: build it when missing or stale, as `npm start` does.
  execFileSync(process.execPath, ['bin/ensure-dashboard.js'], { stdio: 'inherit', timeout: 300_000 });
  env = await createGatewayTestEnv('dash', ['patterns', 'minuteAggregates', 'dailyAggregates']);
  const redisPrefix = uniqueRedisPrefix('dash');
  await env.produce(
    'patterns',
    PATTERNS.map((value) => ({ key: value.symbol, value })),
  );
  await env.produce(
    'bars',
    BARS.map((value) => ({ key: value.symbol, value })),
  );
  projector = await startProjector({
    databaseUrl: env.db.url,
    brokers: env.kafka.brokers,
    registryUrl: env.kafka.registryUrl,
    topicPrefix: env.kafka.prefix,
    redisUrl: 'redis://127.0.0.1:6379/0',
    redisKeyPrefix: redisPrefix,
    projections: ['patterns', 'bars', 'redis'],
    logger: env.logger,
  });
  gateway = await env.start();
  const platform = loadPlatformConfig();
  api = await startApi({
    config: loadApiConfig({
      ...process.env,
      API_PORT: '0',
      API_REDIS_PREFIX: `${redisPrefix}api:`,
      API_PROJECTION_LAG_FROM_KAFKA: 'false',
      API_DASHBOARD_GATEWAY_URL: `ws://{host}:${gateway.port}/ws`,
      // Every page load refreshes the session: more than the per-IP credential limit a minute, all from 127.0.0.1.
      API_AUTH_RATE_LIMIT_PER_MINUTE: '1000',
    }),
    databaseUrl: env.db.url,
    redisUrl: platform.REDIS_URL,
    redisKeyPrefix: redisPrefix,
    brokers: env.kafka.brokers,
    kafkaClientId: platform.KAFKA_CLIENT_ID,
    tokens: new TokenService(loadAuthConfig()),
    port: 0,
    logger: createLogger('dash-api', { level: 'silent' }),
  });
  // Wait until the projector has written every fixture pattern and bar.
  await waitUntil(
    'the projector writing every fixture pattern and bar',
    async () => {
      const { rows } = await env.pool.query<{ patterns: string; bars: string }>(
        'SELECT (SELECT count(*) FROM pattern_events) AS patterns, (SELECT count(*) FROM bars_1m) AS bars',
      );
      return Number(rows[0]!.patterns) >= PATTERNS.length && Number(rows[0]!.bars) >= BARS.length;
    },
    90_000,
    200,
  );
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 400_000); // a dashboard build and five stages' start-up, on a busy two-core machine

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await projector?.stop();
  await env?.cleanup();
});

describe('the dashboard in Chromium', () => {
  it('signs up, signs out and signs in again', async () => {
    await page.goto(`${api.url}/app/`);
    await snap('sign-in');
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('text=Create an account');
    await page.waitForSelector('h1:text("Pattern scanner")');
    await page.click('text=Sign out');
    await page.waitForSelector('input[name=email]');
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', 'wrong password, long enough');
    await page.click('button[type=submit]');
    await page.waitForSelector('[role=alert]');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Pattern scanner")');
    expect(pageErrors).toEqual([]);
  });

  it('shows the rows the API returns for the filters in the URL, and names an invalid filter', async () => {
    const query = 'timeframe=intraday&confidence_min=0.6&sort_by=detected_at&sort_order=desc';
    await page.goto(`${api.url}/app/?${query}`);
    const expected = await scanIds(query);
    expect(expected.length).toBeGreaterThan(0);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=rows] tr').length === count, expected.length);
    expect(await shownIds()).toEqual(expected);
    expect(await page.inputValue('input[name=confidence_min]')).toBe('0.6');

    // Editing the form puts the filters in the URL.
    await page.fill('input[name=confidence_min]', '0.8');
    await page.click('button:text("Apply")');
    await page.waitForURL(/confidence_min=0\.8/);
    const stricter = await scanIds(new URL(page.url()).search.slice(1));
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=rows] tr').length === count, stricter.length);
    expect(await shownIds()).toEqual(stricter);

    await page.goto(`${api.url}/app/?confidence_min=lots`);
    const error = await page.waitForSelector('[data-testid=scan-error] [data-field=confidence_min]');
    expect(await error.textContent()).toContain('confidence_min');
    expect(pageErrors).toEqual([]);
  });

  it('filters the scanner by direction and bounds from the form and the URL, live events included, in agreement with the API', async () => {
    // Not the next tests' `?sort_by=detected_at`: each view saves its own cursor, and they count the events they replay.
    await page.goto(`${api.url}/app/?sort_by=detected_at&sort_order=desc`);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    await page.selectOption('select[name=direction]', 'bearish');
    await page.fill('input[name=rs_max]', '50');
    await page.fill('input[name=vol_max]', '1000');
    await page.click('button:text("Apply")');
    await page.waitForURL(/direction=bearish/);
    const search = new URL(page.url()).searchParams;
    expect(Object.fromEntries(search)).toMatchObject({ direction: 'bearish', rs_max: '50', vol_max: '1000' });
    const query = search.toString();
    const expected = await scanIds(query);
    expect(expected.length).toBeGreaterThan(0);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=rows] tr').length === count, expected.length);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    expect(await shownIds()).toEqual(expected);
    const directions = () => page.$$eval('[data-testid=rows] tr td:nth-child(4)', (cells) => cells.map((cell) => cell.textContent));
    expect(new Set(await directions())).toEqual(new Set(['BEARISH']));
    // Live: a bullish pattern is not the scan's, a bearish one is; the rows stay the API's.
    const inBounds = { relativeStrength: 1.2, relativeVolume: 2 };
    const bullish = { ...freshPattern('AMZN'), ...inBounds, direction: 'BULLISH' as const };
    const bearish = { ...freshPattern('META'), ...inBounds, direction: 'BEARISH' as const };
    await env.produce('patterns', [
      { key: bullish.symbol, value: bullish },
      { key: bearish.symbol, value: bearish },
    ]);
    await page.waitForSelector(`[data-testid=rows] tr.flash[data-id="${bearish.patternId}"]`, { timeout: 60_000 });
    await page.waitForFunction(
      async (count) => document.querySelectorAll('[data-testid=rows] tr').length === count,
      (await scanIds(query)).length,
    );
    expect(await shownIds()).toEqual(await scanIds(query));
    expect(await shownIds()).not.toContain(bullish.patternId);
    expect(new Set(await directions())).toEqual(new Set(['BEARISH']));
    // Reloading keeps the filters (they are the URL), and the form shows them.
    await page.reload();
    await page.waitForSelector('[data-testid=rows] tr');
    expect(await page.inputValue('select[name=direction]')).toBe('bearish');
    expect(await page.inputValue('input[name=rs_max]')).toBe('50');
    // An invalid direction in the URL is named.
    await page.goto(`${api.url}/app/?direction=sideways`);
    const error = await page.waitForSelector('[data-testid=scan-error] [data-field="direction.0"]');
    expect(await error.textContent()).toContain('not a direction');
    expect(pageErrors).toEqual([]);
  });

  it('shows a pattern arriving live, flagged, in agreement with the API', async () => {
    await page.goto(`${api.url}/app/?sort_by=detected_at`);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    await page.waitForSelector('[data-testid=rows] tr');
    const live = freshPattern('NVDA');
    await env.produce('patterns', [{ key: live.symbol, value: live }]);
    await page.waitForSelector(`[data-testid=rows] tr.flash[data-id="${live.patternId}"]`, { timeout: 60_000 });
    expect(await page.textContent('[data-testid=received]')).toBe('1');
    await page.waitForFunction(
      async (count) => document.querySelectorAll('[data-testid=rows] tr').length === count,
      (await scanIds('sort_by=detected_at')).length,
    );
    expect(await shownIds()).toEqual(await scanIds('sort_by=detected_at'));
    await snap('scanner');
  });

  it('resumes from the saved cursor after leaving and reloading: what arrived meanwhile is replayed', async () => {
    await page.goto('about:blank');
    const missed = [freshPattern('AAPL'), freshPattern('MSFT')];
    await env.produce(
      'patterns',
      missed.map((value) => ({ key: value.symbol, value })),
    );
    await page.goto(`${api.url}/app/?sort_by=detected_at`);
    const report = await page.waitForSelector('[data-testid=report]', { timeout: 60_000 });
    expect(await report.textContent()).toContain('2 events replayed');
    for (const value of missed) await page.waitForSelector(`[data-testid=rows] tr[data-id="${value.patternId}"]`);
    expect(pageErrors).toEqual([]);
  });

  it('creates, edits and deletes a watchlist, and scans it live: rows match the API for that universe', async () => {
    await page.goto(`${api.url}/app/universes`);
    await page.fill('[data-testid=new-universe] input[name=key]', 'dash_watch');
    await page.fill('[data-testid=new-universe] input[name=name]', 'Dash watchlist');
    await page.fill('[data-testid=new-universe] textarea[name=symbols]', 'nvda, AAPL');
    await page.click('[data-testid=new-universe] button[type=submit]');
    const own = '[data-testid=own-universes] tr[data-key=dash_watch]';
    await page.waitForSelector(`${own} td.num:text-is("2")`);
    await page.click(`${own} button:text("Edit")`);
    await page.fill(`${own} textarea[name=symbols]`, 'NVDA AAPL MSFT');
    await page.click(`${own} button:text("Save")`);
    await page.waitForSelector(`${own} td.num:text-is("3")`);
    await snap('universes');

    // Used as the scanner's filter (the URL) and as the gateway subscription (its universe filter).
    await page.click(`${own} a:text("Scan it live")`);
    await page.waitForURL(/universe=dash_watch/);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    const expected = await scanIds('universe=dash_watch');
    expect(expected.length).toBeGreaterThan(0);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=rows] tr').length === count, expected.length);
    expect(await shownIds()).toEqual(expected);
    const symbols = await page.$$eval('[data-testid=rows] tr td:first-child', (cells) => cells.map((cell) => cell.textContent));
    expect(new Set(symbols)).toEqual(new Set(symbols.filter((symbol) => ['NVDA', 'AAPL', 'MSFT'].includes(symbol ?? ''))));
    expect(await page.inputValue('select[name=universe]')).toBe('dash_watch');
    // A pattern outside the universe, then one inside it: only the second is streamed and flagged.
    const outside = freshPattern('XOM');
    const inside = freshPattern('MSFT');
    await env.produce('patterns', [{ key: outside.symbol, value: outside }]);
    await env.produce('patterns', [{ key: inside.symbol, value: inside }]);
    await page.waitForSelector(`[data-testid=rows] tr.flash[data-id="${inside.patternId}"]`, { timeout: 60_000 });
    expect(await page.textContent('[data-testid=received]')).toBe('1');
    const after = await scanIds('universe=dash_watch');
    expect(after).toContain(inside.patternId);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid=rows] tr').length === count, after.length);
    expect(await shownIds()).toEqual(after);
    expect(await shownIds()).not.toContain(outside.patternId);

    await page.goto(`${api.url}/app/universes`);
    await page.click(`${own} button:text("Delete")`);
    await page.click(`${own} button:text("Yes, delete dash_watch")`);
    await page.waitForSelector(own, { state: 'detached' });
    expect(pageErrors).toEqual([]);
  });

  it('goes offline for 20 s while patterns keep arriving, comes back, and reports the recovery: no row missing or duplicated', async () => {
    await page.goto(`${api.url}/app/?sort_by=detected_at`);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    // This view's cursor was saved by the tests before: the page resumes from it first.
    await page.waitForSelector('[data-testid=report]:has-text("resumed from the saved position")');
    const receivedBefore = Number(await page.textContent('[data-testid=received]'));
    const context = page.context();
    await context.setOffline(true);
    await page.waitForSelector('[data-testid=connection][data-state=offline]');
    const missed: PatternEventValue[] = [];
    // The offline period is the test's subject: 20 s, with two patterns produced every 5 s of it.
    for (let step = 0; step < 4; step += 1) {
      const batch = [freshPattern('AMZN'), freshPattern('META')];
      missed.push(...batch);
      await env.produce(
        'patterns',
        batch.map((value) => ({ key: value.symbol, value })),
      );
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
    await context.setOffline(false);
    const report = await page.waitForSelector('[data-testid=report]:has-text("back after")', { timeout: 60_000 });
    expect(await report.textContent()).toMatch(/back after \d+ s: 8 events replayed, nothing missed/);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    // Every event once (the SDK drops what it already delivered), and the rows are the API's, each once.
    await page.waitForFunction(
      (count) => Number(document.querySelector('[data-testid=received]')?.textContent) >= count,
      receivedBefore + 8,
    );
    expect(Number(await page.textContent('[data-testid=received]'))).toBe(receivedBefore + 8);
    for (const value of missed) await page.waitForSelector(`[data-testid=rows] tr[data-id="${value.patternId}"]`);
    const expected = await scanIds('sort_by=detected_at');
    await page.waitForFunction(
      (ids) => [...document.querySelectorAll<HTMLElement>('[data-testid=rows] tr')].map((row) => row.dataset.id).join() === ids.join(),
      expected,
    );
    const shown = await shownIds();
    expect(shown).toEqual(expected);
    expect(new Set(shown).size).toBe(shown.length);
    await snap('reconnected');
    expect(pageErrors).toEqual([]);
  });

  it('creates an API key shown once, streams the live feed with it, revokes it, and says in words that a revoked key is refused', async () => {
    await page.goto(`${api.url}/app/keys`);
    await page.fill('[data-testid=new-key] input[name=name]', 'dash key');
    await page.click('[data-testid=new-key] button[type=submit]');
    const key = await page.inputValue('[data-testid=created-key] input');
    expect(key).toMatch(/^tfk_/);
    await page.waitForSelector('[data-testid=keys] tr[data-name="dash key"]');
    await snap('keys');
    await page.fill('[data-testid=check-key] input[name=key]', key);
    await page.click('[data-testid=check-key] button[type=submit]');
    await page.waitForSelector(`[data-testid=key-check]:has-text("This key works: it signs in as ${EMAIL}")`);
    await page.click('[data-testid=created-key] button:text("Done")');
    expect(await page.$('[data-testid=created-key]')).toBeNull();

    // The live feed (the gateway's old live page, folded in) streams with the key from the URL fragment.
    await page.goto(`${api.url}/app/live#apiKey=${encodeURIComponent(key)}`);
    await page.waitForSelector('[data-testid=connection][data-state=open]');
    const live = freshPattern('JPM');
    await env.produce('patterns', [{ key: live.symbol, value: live }]);
    const row = await page.waitForSelector('[data-testid=feed] tr', { timeout: 60_000 });
    expect(await row.getAttribute('data-position')).toMatch(/^\d+:\d+$/);
    expect(await row.textContent()).toContain('JPM');
    await snap('live-feed');
    await page.goto(`${api.url}/app/keys`);
    await page.click('[data-testid=keys] tr[data-name="dash key"] button:text("Revoke")');
    await page.waitForSelector('[data-testid=keys] tr[data-name="dash key"] td:has-text("revoked")');
    await page.fill('[data-testid=check-key] input[name=key]', key);
    await page.click('[data-testid=check-key] button[type=submit]');
    await page.waitForSelector('[data-testid=key-check]:has-text("The API refuses this key: it has been revoked")');
    // The gateway refuses it too, and the feed says so instead of retrying.
    await page.goto(`${api.url}/app/live#apiKey=${encodeURIComponent(key)}`);
    await page.waitForSelector('[data-testid=feed-error]:has-text("The gateway refused this API key: it has been revoked")');
    expect(await page.getAttribute('[data-testid=connection]', 'data-state')).toBe('failed');
    expect(pageErrors).toEqual([]);
  });

  it('starts the live feed from a snapshot: one row per active pattern, marked as a state', async () => {
    await page.goto(`${api.url}/app/live#from=snapshot`);
    const status = await page.waitForSelector('p.status:has-text("snapshot:")');
    const active = Number(/snapshot: (\d+) active patterns/.exec((await status.textContent()) ?? '')?.[1]);
    expect(active).toBeGreaterThan(0);
    expect(await page.$$('[data-testid=feed] tr[data-position=snapshot]')).toHaveLength(Math.min(active, 200));
    expect(await page.inputValue('select[name=from]')).toBe('snapshot');
    expect(pageErrors).toEqual([]);
  });

  it('draws the overview from the stats, the summary and the counts', async () => {
    // The counts the page was answered (live events may change them between its request and one of the test's).
    const countsResponse = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/patterns/counts');
    await page.goto(`${api.url}/app/overview`);
    await page.waitForSelector('[data-testid=by-tier] .bar-row');
    const headers = { authorization: `Bearer ${await apiToken()}` };
    const stats = (await (await fetch(`${api.url}/api/patterns/stats?hours=24`, { headers })).json()) as {
      active_total: number;
      by_pattern: { key: string }[];
    };
    const answered = await countsResponse;
    expect(Object.fromEntries(new URL(answered.url()).searchParams)).toEqual({ hours: '24', top: '10' });
    const counts = (await answered.json()) as {
      by_direction: { key: string; count: number }[];
      by_symbol: { key: string; count: number }[];
    };
    const barsOf = (testid: string) =>
      page.$$eval(`[data-testid=${testid}] .bar-row`, (rows) =>
        rows.map((row) => ({ key: (row as HTMLElement).dataset.key, count: row.querySelector('.num')?.textContent })),
      );
    expect(await page.textContent('[data-testid=active-total]')).toContain(stats.active_total.toLocaleString('en-US'));
    expect((await barsOf('by-pattern')).map((row) => row.key)).toEqual(stats.by_pattern.map((row) => row.key));
    // Direction and the most active symbols are the API's counts over the whole window, not a sample of rows.
    expect(counts.by_symbol.length).toBeGreaterThan(0);
    expect(await barsOf('by-direction')).toEqual(
      counts.by_direction.map((row) => ({ key: row.key.toLowerCase(), count: row.count.toLocaleString('en-US') })),
    );
    expect(await barsOf('top-symbols')).toEqual(
      counts.by_symbol.map((row) => ({ key: row.key, count: row.count.toLocaleString('en-US') })),
    );
    expect(await page.textContent('[data-testid=top-symbols] figcaption')).toContain('last 24 h');
    // Over time by direction (the default split): one line per direction, with the window's total in the legend.
    const byTime = (await answered.json()) as { buckets_by_direction: { key: string; count: number }[] };
    const totals = new Map<string, number>();
    for (const row of byTime.buckets_by_direction) totals.set(row.key, (totals.get(row.key) ?? 0) + row.count);
    const legend = await page.$$eval('[data-testid=split-legend] li[data-key]', (items) =>
      items.map((item) => [(item as HTMLElement).dataset.key, item.querySelector('.num')?.textContent] as const),
    );
    expect(new Map(legend)).toEqual(new Map([...totals].map(([key, count]) => [key, count.toLocaleString('en-US')])));
    expect(await page.getAttribute('[data-testid=split]', 'data-series')).toBe(String(totals.size));
    expect(await page.textContent('main')).not.toContain('newest');
    await snap('overview');
    expect(pageErrors).toEqual([]);
  });

  it('fits a tablet in dark mode, and works by keyboard', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await page.goto(`${api.url}/app/?sort_by=detected_at`);
      await page.waitForSelector('[data-testid=rows] tr');
      // No sideways scrolling of the page (wide tables scroll in their own box), and the system's dark colours.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(15, 19, 24)');
      await snap('tablet-dark');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      for (let step = 0; step < 10 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Universes'; step += 1)
        await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.waitForSelector('h1:text("Universes")');
      expect(new URL(page.url()).pathname).toBe('/app/universes');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.emulateMedia({ colorScheme: 'light' });
    }
    expect(pageErrors).toEqual([]);
  });

  it('says in words when the API answers 429 or 503, and when the session has expired', async () => {
    for (const [status, headers, words] of [
      [429, { 'retry-after': '7' }, 'Too many requests: the API asks to wait 7 s'],
      [503, {}, 'The API is unavailable right now'],
    ] as const) {
      await page.route('**/api/patterns/scan**', (route) =>
        route.fulfill({ status, headers: { 'content-type': 'application/problem+json', ...headers }, body: JSON.stringify({ status }) }),
      );
      await page.goto(`${api.url}/app/`);
      expect(await (await page.waitForSelector('[data-testid=scan-error]')).textContent()).toContain(words);
      await page.unroute('**/api/patterns/scan**');
    }
    // A refresh token the API no longer accepts (revoked, expired): back to the sign-in form, saying why.
    await page.evaluate(() => sessionStorage.setItem('tickflow.refresh', 'revoked-or-expired'));
    await page.reload();
    await page.waitForSelector('text=Your session has expired');
    await page.waitForSelector('input[name=email]');
    expect(pageErrors).toEqual([]);
  });

  it('draws a symbol chart with bars and pattern markers', async () => {
    // NVDA has the live pattern of an earlier test (confidence 0.99: first row) and fixture bars.
    const symbol = 'NVDA';
    await page.fill('input[name=email]', EMAIL);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Pattern scanner")');
    await page.click(`[data-testid=rows] a:text-is("${symbol}") >> nth=0`);
    await page.waitForURL(/\/app\/symbol\//);
    await page.selectOption('select', '1m');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid=chart]')?.dataset.bars) > 0);
    const chart = (await page.$('[data-testid=chart]'))!;
    expect(Number(await chart.getAttribute('data-bars'))).toBeGreaterThan(0);
    expect(Number(await chart.getAttribute('data-markers'))).toBeGreaterThan(0);
    // The candle canvas has pixels of more than one colour: something was drawn on the background.
    const colours = await page.$$eval('[data-testid=chart] canvas', (canvases) =>
      Math.max(
        ...(canvases as HTMLCanvasElement[]).map((canvas) => {
          const context = canvas.getContext('2d');
          if (!context || canvas.width === 0) return 0;
          const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = new Set<number>();
          for (let index = 0; index < pixels.length && seen.size < 50; index += 4 * 97)
            seen.add(pixels[index]! * 65536 + pixels[index + 1]! * 256 + pixels[index + 2]!);
          return seen.size;
        }),
      ),
    );
    expect(colours).toBeGreaterThan(3);
    await snap('symbol');
    expect(pageErrors).toEqual([]);
  });
});
