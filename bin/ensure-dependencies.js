#!/usr/bin/env node
// `npm start` and `npm test` run this first (prestart, pretest), so that on a fresh clone each of the README's two
// commands does its own set-up: when the installed packages are missing or older than package-lock.json, it runs
// `npm ci`. It uses Node's own modules only, since it runs before any dependency is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const current = existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs;
if (!current) {
  console.log('[setup] installing the dependencies (npm ci): the installed packages are missing or older than package-lock.json');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[setup] npm ci failed (exit ${result.status ?? result.signal}); see its output above`);
    process.exit(1);
  }
}
