import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { loadApiConfig, startApi } from '../../api/index.js';
import { DASHBOARD_DIST } from '../../api/routes-dashboard.js';
import { createLogger, loadAuthConfig, loadPlatformConfig, TokenService } from '../../platform/index.js';
import { CHROMIUM_ARGS, ensureChromium } from '../../test/browser.js';
import { benchDatabaseUrl } from '../databases.js';
import { percentile, type BenchOptions, type BenchSuite, type Figure } from '../harness.js';

/**
 * The dashboard in headless Chromium: JavaScript shipped (gzipped, chart library included) and the time from a
 * page load (signed in: the refresh token in sessionStorage) to the first rendered scanner rows, with the API warm.
 * Reads the API bench's database (`npx tickflow bench api` seeds it: 10M patterns, 500k active); writes only a
 * user. No gateway: the live connection plays no part in the first rows.
 */
const suite: BenchSuite = {
  name: 'dashboard',
  onlyByName: true,
  description: 'dashboard: JS shipped (gzip) and time to first scanner rows after load, API warm (Playwright, Chromium)',
  async run({ scale }: BenchOptions): Promise<Figure[]> {
    execFileSync(process.execPath, ['bin/ensure-dashboard.js'], { stdio: 'inherit' });
    const assets = join(DASHBOARD_DIST, 'assets');
    const js = readdirSync(assets).filter((file) => file.endsWith('.js'));
    const gzipped = js.reduce((sum, file) => sum + gzipSync(readFileSync(join(assets, file)), { level: 9 }).length, 0);
    const platform = loadPlatformConfig();
    const api = await startApi({
      config: loadApiConfig({
        ...process.env,
        API_PORT: '0',
        API_PROJECTION_LAG_FROM_KAFKA: 'false',
        API_DASHBOARD_GATEWAY_URL: 'ws://{host}:9/ws',
        API_REDIS_PREFIX: `bench:dashboard:${Date.now()}:`,
      }),
      databaseUrl: benchDatabaseUrl('plain', 'tickflow_bench_api'),
      redisUrl: platform.REDIS_URL,
      redisKeyPrefix: platform.REDIS_KEY_PREFIX,
      brokers: platform.KAFKA_BROKERS,
      kafkaClientId: platform.KAFKA_CLIENT_ID,
      tokens: new TokenService(loadAuthConfig()),
      port: 0,
      logger: createLogger('bench-dashboard', { level: 'silent' }),
    });
    const browser = await chromium.launch({ executablePath: ensureChromium(), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${api.url}/app/`);
      await page.fill('input[name=email]', `bench-${Date.now()}@example.test`);
      await page.fill('input[name=password]', 'correct horse battery staple');
      await page.click('text=Create an account');
      await page.waitForSelector('[data-testid=rows] tr');
      const samples: number[] = [];
      const runs = Math.max(3, Math.round(20 * scale));
      for (let run = -3; run < runs; run += 1) {
        const started = performance.now();
        await page.reload();
        await page.waitForSelector('[data-testid=rows] tr');
        if (run >= 0) samples.push(performance.now() - started);
      }
      return [
        { name: 'JS shipped, gzipped', value: gzipped / 1024, unit: 'KiB', note: `${js.length} file(s), gzip -9; goal <= 250` },
        {
          name: 'first scanner rows after load, p50',
          value: percentile(samples, 50),
          unit: 'ms',
          note: `${samples.length} reloads; goal <= 1000`,
        },
        { name: 'first scanner rows after load, p95', value: percentile(samples, 95), unit: 'ms' },
      ];
    } finally {
      await browser.close();
      await api.stop();
    }
  },
};

export default suite;
