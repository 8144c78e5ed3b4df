import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags that keep headless Chromium off the (closed) network and working as root. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Installs Debian's Chromium when it is missing, so the browser tests set themselves up on a fresh
 * machine (npx playwright install cannot download here). Serialised with a lock across test workers.
 */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  execFileSync(
    'flock',
    [
      '/tmp/tickflow-apt.lock',
      'sh',
      '-c',
      `test -x ${CHROMIUM_PATH} || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)`,
    ],
    { stdio: 'inherit', timeout: 600_000 },
  );
  if (!existsSync(CHROMIUM_PATH)) throw new Error('chromium could not be installed with apt-get');
  return CHROMIUM_PATH;
}
