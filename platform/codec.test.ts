import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { AvroCodec, loadRegistryAccessSettings, registryAccessFrom } from './codec.js';

describe('registry access settings', () => {
  const readFile = (path: string) => {
    if (path === '/ca.pem') return 'CA';
    throw Object.assign(new Error('missing'), { code: 'ENOENT' });
  };

  it('has no credentials and no agent by default', () => {
    expect(registryAccessFrom(loadRegistryAccessSettings({}), readFile)).toEqual({});
  });

  it('builds basic auth and a TLS agent trusting the CA', () => {
    const access = registryAccessFrom(
      loadRegistryAccessSettings({
        SCHEMA_REGISTRY_USERNAME: 'key',
        SCHEMA_REGISTRY_PASSWORD: 'secret',
        SCHEMA_REGISTRY_CA_FILE: '/ca.pem',
      }),
      readFile,
    );
    expect(access.auth).toEqual({ username: 'key', password: 'secret' });
    expect(access.agent?.options.ca).toBe('CA');
  });

  it('names half-set pairs and unreadable files', () => {
    expect(() =>
      registryAccessFrom(loadRegistryAccessSettings({ SCHEMA_REGISTRY_USERNAME: 'key', SCHEMA_REGISTRY_CERT_FILE: '/nope.pem' }), readFile),
    ).toThrow(ConfigError);
  });
});

describe('the codec against a registry behind basic auth', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('sends the credentials with its own requests (the compatibility level)', async () => {
    const seen: (string | undefined)[] = [];
    server = createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(request.headers.authorization === `Basic ${Buffer.from('key:secret').toString('base64')}` ? 200 : 401);
      response.end('{}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new AvroCodec(url, '', { auth: { username: 'key', password: 'secret' } }).setCompatibility('s-value', 'BACKWARD');
    await expect(new AvroCodec(url, '', {}).setCompatibility('s-value', 'BACKWARD')).rejects.toThrow(/HTTP 401/);
    expect(seen[0]).toMatch(/^Basic /);
  });
});
