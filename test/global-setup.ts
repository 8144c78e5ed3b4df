import { LocalStack, formatStatus } from '../stack/local-stack.js';
import { ensureChromium } from './browser.js';

/**
 * Brings the local stack up when it is not running (and leaves it running afterwards: warm starts are fast), and
 * installs Chromium for the browser tests when it is missing. Installing takes minutes on a fresh machine: here
 * it has no hook's time limit, and no test waits on it while holding a server.
 */
export default async function setup(): Promise<void> {
  ensureChromium();
  const stack = new LocalStack();
  const statuses = await stack.status();
  if (statuses.every((server) => server.up)) return;
  const after = await stack.up((line) => console.log(`[stack] ${line}`));
  if (after.some((server) => !server.up)) {
    throw new Error(`the local stack is not fully up:\n${formatStatus(after)}`);
  }
}
