#!/usr/bin/env node
// `npm start` runs this after ensure-dependencies.js (prestart): the API serves the dashboard from dashboard/dist/,
// so it is built (`npm run build:dashboard`) when missing or older than any of its sources (the dashboard's own
// files, the gateway SDK it bundles, the API whose OpenAPI document its types come from). Node's own modules only.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dashboard', 'dist', 'index.html');
const SOURCES = ['dashboard/src', 'dashboard/index.html', 'dashboard/vite.config.ts', 'gateway/client', 'api', 'package-lock.json'];

/** The newest modification time under a path (skipping dist/ folders). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === 'dist' || entry === 'node_modules') continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
const sourcesAt = Math.max(...SOURCES.map((source) => newest(join(root, source))));
if (builtAt < sourcesAt) {
  console.log(
    `[setup] building the dashboard (npm run build:dashboard): ${builtAt === 0 ? 'not built yet' : 'its sources changed since the last build'}`,
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build:dashboard'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[setup] the dashboard build failed (exit ${result.status ?? result.signal}); see its output above`);
    process.exit(1);
  }
}
