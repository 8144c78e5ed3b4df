import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { waitUntil } from '../stack/local-stack.js';

interface DemoCredentials {
  readonly email: string;
  readonly password: string;
}

/**
 * A local demo account for `npm start`, so the printed live-page link works without a sign-up step.
 * Its password is random and kept (mode 0600) in a git-ignored file; the link carries a fresh API key
 * in the URL fragment, which browsers never send to a server.
 */
export async function demoApiKey(apiBase: string, credentialsFile: string, timeoutMs = 120_000): Promise<string> {
  await waitUntil('the API', async () => (await fetch(`${apiBase}/health`)).ok, timeoutMs);
  let credentials: DemoCredentials;
  let access: string;
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${apiBase}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  if (existsSync(credentialsFile)) {
    credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as DemoCredentials;
    const login = await post('/api/auth/login', credentials);
    if (!login.ok) throw new Error(`demo login failed: HTTP ${login.status}`);
    access = ((await login.json()) as { access_token: string }).access_token;
  } else {
    credentials = { email: `demo-${randomBytes(4).toString('hex')}@tickflow.local`, password: randomBytes(18).toString('base64url') };
    const register = await post('/api/auth/register', credentials);
    if (!register.ok) throw new Error(`demo sign-up failed: HTTP ${register.status}`);
    access = ((await register.json()) as { access_token: string }).access_token;
    mkdirSync(dirname(credentialsFile), { recursive: true });
    writeFileSync(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  }
  const created = await post('/api/auth/api-keys', { name: `npm start ${new Date().toISOString()}` }, access);
  if (!created.ok) throw new Error(`demo API key failed: HTTP ${created.status}`);
  return ((await created.json()) as { key: string }).key;
}
