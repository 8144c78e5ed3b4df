import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, startApi, type ApiHandle } from '../api/index.js';
import { loadAuthConfig, loadPlatformConfig, TokenService } from '../platform/index.js';
import { migrate } from '../projections/index.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { scaled } from './config.js';
import { recordFigure } from './figures.js';
import { attackTokens } from './jwt-attacks.js';
import { capturedLogger, leakedSecrets } from '../test/log-capture.js';
import { SQL_INJECTION_PAYLOADS } from './sql-injection.js';

const PASSWORD_A = 'alice-chaos-password-4f9c2e';
const PASSWORD_B = 'bob-chaos-password-7d1a0b';

interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly parameters: { name: string; in: 'query' | 'path'; type: string | undefined }[];
  readonly hasBody: boolean;
  readonly secured: boolean;
}

/** Path values that reach the handler (the path's own validation is fuzzed separately). */
const PATH_DEFAULTS: Record<string, string> = { symbol: 'AAPL', key: 'market_leaders', id: '0123456789ab' };

describe('API under fuzzed input and attacks', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let api: ApiHandle;
  let strict: ApiHandle;
  const logs = [capturedLogger('api'), capturedLogger('api-strict')];
  const secrets: string[] = [PASSWORD_A, PASSWORD_B];
  let alice: { token: string; refresh: string; id: string };
  let bob: { token: string; refresh: string; id: string };
  let operations: Operation[] = [];
  let usersBefore = 0;
  const tally = { requests: 0, status5xx: 0, status4xx: 0, status2xx: 0 };

  async function call(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; token?: string; target?: ApiHandle; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const response = await fetch(`${(options.target ?? api).url}${path}`, { method, headers, body });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    let parsed: Record<string, unknown> = {};
    if (type.includes('json') && text) parsed = JSON.parse(text) as Record<string, unknown>;
    tally.requests += 1;
    if (response.status >= 500) tally.status5xx += 1;
    else if (response.status >= 400) tally.status4xx += 1;
    else tally.status2xx += 1;
    return { status: response.status, type, body: parsed, text };
  }

  /** 4xx with a problem+json body; a 400 names the offending field. */
  function expectClientError(reply: Reply, context: string, field?: string): void {
    expect(reply.status, `${context}: ${reply.text.slice(0, 300)}`).toBeLessThan(500);
    if (reply.status < 400) return;
    expect(reply.type, context).toContain('application/problem+json');
    expect(reply.body.status, context).toBe(reply.status);
    if (reply.status === 400 && field) {
      const errors = (reply.body.errors as { field: string }[] | undefined) ?? [];
      const named =
        errors.some((error) => error.field === field || error.field.startsWith(`${field}.`) || error.field.startsWith(`${field}[`)) ||
        String(reply.body.detail ?? '').includes(field);
      expect(named, `${context}: the problem should name ${field}: ${reply.text.slice(0, 300)}`).toBe(true);
    }
  }

  async function register(email: string, password: string) {
    const reply = await call('POST', '/api/auth/register', { body: { email, password } });
    expect(reply.status, reply.text).toBe(201);
    const body = reply.body as { access_token: string; refresh_token: string; user: { id: string } };
    secrets.push(body.access_token, body.refresh_token);
    return { token: body.access_token, refresh: body.refresh_token, id: body.user.id };
  }

  beforeAll(async () => {
    database = await createTestDatabase('chaos_api');
    await migrate(database.url, { log: () => {} });
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    await pool.query(
      `INSERT INTO symbols (ticker, name, market, locale, type, active, updated_at) VALUES ('AAPL', 'Apple Inc.', 'stocks', 'us', 'CS', true, now()), ('MSFT', 'Microsoft', 'stocks', 'us', 'CS', true, now())`,
    );
    const prefix = uniqueRedisPrefix('chaos-api');
    const settings = {
      API_REDIS_PREFIX: `${prefix}api:`,
      API_PROJECTION_LAG_FROM_KAFKA: 'false',
      API_RATE_LIMIT_PER_MINUTE: '10000000',
      API_AUTH_RATE_LIMIT_PER_MINUTE: '10000000',
    };
    const platform = loadPlatformConfig({});
    const common = {
      databaseUrl: database.url,
      redisUrl: platform.REDIS_URL,
      redisKeyPrefix: `${prefix}rm:`,
      brokers: platform.KAFKA_BROKERS,
      kafkaClientId: platform.KAFKA_CLIENT_ID,
      tokens: new TokenService(loadAuthConfig({})),
      port: 0,
    };
    api = await startApi({ ...common, config: loadApiConfig(settings), logger: logs[0]!.logger });
    strict = await startApi({
      ...common,
      config: loadApiConfig({ ...settings, API_REDIS_PREFIX: `${prefix}strict:`, API_AUTH_RATE_LIMIT_PER_MINUTE: '5' }),
      logger: logs[1]!.logger,
    });
    alice = await register('alice@chaos.test', PASSWORD_A);
    bob = await register('bob@chaos.test', PASSWORD_B);
    usersBefore = Number((await pool.query('SELECT count(*) AS n FROM users')).rows[0].n);
    const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string; schema?: { type?: string } }[];
            requestBody?: unknown;
            security?: Record<string, string[]>[];
          }
        >
      >;
    };
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations.push({
          method: method.toUpperCase(),
          path,
          parameters: (operation.parameters ?? [])
            .filter((parameter) => parameter.in === 'query' || parameter.in === 'path')
            .map((parameter) => ({ name: parameter.name, in: parameter.in as 'query' | 'path', type: parameter.schema?.type })),
          hasBody: operation.requestBody !== undefined,
          secured: (operation.security ?? []).length > 0,
        });
      }
    }
    operations = operations.filter((operation) => operation.path.startsWith('/api/'));
  });

  afterAll(async () => {
    await api?.stop();
    await strict?.stop();
    await pool?.end();
    await database?.drop();
  });

  const urlFor = (operation: Operation, overrides: Record<string, string>) => {
    let path = operation.path;
    const query = new URLSearchParams();
    for (const parameter of operation.parameters) {
      if (parameter.in === 'path')
        path = path.replace(`{${parameter.name}}`, encodeURIComponent(overrides[parameter.name] ?? PATH_DEFAULTS[parameter.name] ?? 'x'));
      else if (overrides[parameter.name] !== undefined) query.set(parameter.name, overrides[parameter.name]!);
    }
    const search = query.toString();
    return search ? `${path}?${search}` : path;
  };

  it('documents every /api operation it serves (the fuzzing below walks the OpenAPI document)', () => {
    expect(operations.length).toBeGreaterThanOrEqual(10);
    expect(operations.some((operation) => operation.path === '/api/patterns/scan')).toBe(true);
  });

  it('answers fuzzed parameters of every operation with 2xx or a 4xx problem naming the field, never 5xx', async () => {
    const value = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.constantFrom(
        '',
        ' ',
        '-1',
        '0',
        '1e309',
        'NaN',
        'Infinity',
        '-0',
        '9'.repeat(40),
        '1.5',
        'true',
        'null',
        '[]',
        '{}',
        ',',
        ',,',
        '50,',
        ',50',
        '100,0',
        'a,b',
        '%00',
        '\u0000',
        '../../etc/passwd',
        'x'.repeat(5000),
      ),
      fc.integer().map(String),
      fc.double().map(String),
    );
    let tried = 0;
    for (const operation of operations.filter((entry) => entry.method === 'GET' || entry.method === 'DELETE')) {
      for (const parameter of operation.parameters) {
        await fc.assert(
          fc.asyncProperty(value, async (fuzzed) => {
            tried += 1;
            const reply = await call(operation.method, urlFor(operation, { [parameter.name]: fuzzed }), { token: alice.token });
            const context = `${operation.method} ${operation.path} ${parameter.name}=${JSON.stringify(fuzzed).slice(0, 80)}`;
            // A path parameter that does not even route (e.g. NUL) may be reported against the path as a whole.
            const pathWide =
              parameter.in === 'path' &&
              ((reply.body.errors as { field: string }[] | undefined) ?? []).some((error) => error.field === 'path');
            expectClientError(reply, context, pathWide ? 'path' : parameter.name);
          }),
          { numRuns: scaled(60, 10) },
        );
      }
    }
    expect(tally.status5xx).toBe(0);
    recordFigure({
      suite: 'bad-input',
      case: 'API query/path parameters (fuzzed, every GET/DELETE operation)',
      requests: tried,
      status5xx: tally.status5xx,
      outcome: 'pass',
    });
  });

  it('answers fuzzed JSON bodies with 2xx or a 4xx problem naming the field, never 5xx', async () => {
    const valid: Record<string, Record<string, unknown>> = {
      '/api/auth/register': { email: 'fuzz@chaos.test', password: 'a-long-enough-password' },
      '/api/auth/login': { email: 'alice@chaos.test', password: 'wrong-password-for-fuzz' },
      '/api/auth/refresh': { refresh_token: 'not-a-token' },
      '/api/auth/logout': { refresh_token: 'not-a-token' },
      '/api/auth/api-keys': { name: 'fuzz' },
      '/api/users/universe': { key: 'fuzz_u', name: 'Fuzz', symbols: ['AAPL'] },
      '/api/users/universe/{key}': { name: 'Fuzz', symbols: ['AAPL'] },
    };
    const odd = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.string({ maxLength: 300 }),
      fc.constant('x'.repeat(10_000)),
      fc.constant(null),
      fc.constant(-1),
      fc.constant([]),
    );
    let tried = 0;
    for (const operation of operations.filter((entry) => entry.hasBody)) {
      const base = valid[operation.path] ?? {};
      const fields = Object.keys(base);
      const body = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json, field: undefined as string | undefined })),
        fc
          .record({ field: fc.constantFrom(...(fields.length > 0 ? fields : ['x'])), bad: odd })
          .map(({ field, bad }) => ({ json: { ...base, [field]: bad } as unknown, field })),
        fc
          .string({ maxLength: 40 })
          .filter((key) => !fields.includes(key) && key.length > 0)
          .map((key) => ({ json: { ...base, [key]: 1 } as unknown, field: undefined })),
      );
      await fc.assert(
        fc.asyncProperty(body, async ({ json, field }) => {
          tried += 1;
          const target = urlFor(operation, { key: 'fuzz_u' });
          const reply = await call(operation.method, target, { body: json, token: alice.token });
          expectClientError(
            reply,
            `${operation.method} ${operation.path} body ${JSON.stringify(json).slice(0, 120)}`,
            reply.status === 400 && field ? field : undefined,
          );
        }),
        { numRuns: scaled(80, 10) },
      );
      for (const raw of ['{', '[1,', 'null', '"x"', '\u0000', '{"a":1}{"b":2}']) {
        tried += 1;
        expectClientError(
          await call(operation.method, urlFor(operation, { key: 'fuzz_u' }), { rawBody: raw, token: alice.token }),
          `${operation.path} raw ${raw}`,
        );
      }
      tried += 1;
      expectClientError(
        await call(operation.method, urlFor(operation, { key: 'fuzz_u' }), {
          rawBody: 'a=b',
          token: alice.token,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
        `${operation.path} form body`,
      );
    }
    expect(tally.status5xx).toBe(0);
    recordFigure({
      suite: 'bad-input',
      case: 'API JSON bodies (fuzzed, every operation with a body)',
      requests: tried,
      status5xx: tally.status5xx,
      outcome: 'pass',
    });
  });

  // Regression: a NUL character reached PostgreSQL ("invalid byte sequence for encoding UTF8: 0x00") and came back as 500.
  it('answers a NUL character in a path, query or body with 400, not 500', async () => {
    expectClientError(await call('GET', '/api/patterns/%00', { token: alice.token }), 'NUL in path', 'path');
    const query = await call('GET', '/api/symbols?search=a%00b', { token: alice.token });
    expect(query.status).toBe(400);
    expectClientError(query, 'NUL in query', 'search');
    for (const body of [
      { key: 'nul', name: 'a\u0000b', symbols: ['AAPL'] },
      { key: 'nul', name: 'ok', symbols: ['AAPL'], criteria: { note: 'a\u0000b' } },
    ]) {
      const reply = await call('POST', '/api/users/universe', { token: alice.token, body });
      expect(reply.status, reply.text).toBe(400);
      expect(reply.type).toContain('application/problem+json');
    }
  });

  it('resists SQL injection in every string parameter and body field: no 5xx, no data exposed, nothing dropped', async () => {
    let tried = 0;
    const tables = ['users', 'patterns', 'pattern_events', 'user_universes', 'api_keys', 'refresh_tokens'];
    for (const payload of SQL_INJECTION_PAYLOADS) {
      for (const operation of operations) {
        for (const parameter of operation.parameters) {
          tried += 1;
          const reply = await call(
            operation.method === 'GET' || operation.method === 'DELETE' ? operation.method : 'GET',
            urlFor(operation, { [parameter.name]: payload }),
            { token: bob.token },
          );
          expectClientError(reply, `${operation.path} ${parameter.name}=${payload}`);
          // Echoing the payload in an error is fine; data from the database is not.
          expect(reply.text).not.toContain('alice@chaos.test');
          expect(reply.text).not.toContain('$argon2');
        }
      }
      for (const [path, body] of [
        ['/api/auth/login', { email: payload, password: payload.padEnd(12, 'x') }],
        ['/api/auth/login', { email: 'alice@chaos.test', password: payload.padEnd(12, 'x') }],
        ['/api/auth/refresh', { refresh_token: payload }],
        ['/api/auth/api-keys', { name: payload }],
        ['/api/users/universe', { key: 'inj', name: payload, description: payload, symbols: ['AAPL'], criteria: { [payload]: payload } }],
      ] as const) {
        tried += 1;
        const reply = await call('POST', path, { body, token: bob.token });
        expectClientError(reply, `${path} ${payload}`);
        if (path === '/api/auth/login') expect(reply.status).not.toBe(200);
      }
      await call('DELETE', '/api/users/universe/inj', { token: bob.token });
    }
    const { rows } = await pool.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'");
    for (const table of tables) expect(rows.map((row) => row.name)).toContain(table);
    expect(Number((await pool.query('SELECT count(*) AS n FROM users')).rows[0].n)).toBeGreaterThanOrEqual(usersBefore);
    expect((await call('GET', '/api/auth/me', { token: alice.token })).status).toBe(200);
    recordFigure({
      suite: 'security',
      case: 'API SQL injection (every string parameter + body fields)',
      payloads: SQL_INJECTION_PAYLOADS.length,
      requests: tried,
      status5xx: tally.status5xx,
      tablesIntact: true,
      outcome: 'pass',
    });
  });

  it('serves no market data without a credential', async () => {
    for (const path of [
      '/api/patterns/scan',
      '/api/patterns/stats',
      '/api/patterns/summary',
      '/api/patterns/any-id',
      '/api/symbols',
      '/api/symbols/AAPL',
      '/api/symbols/AAPL/bars',
    ]) {
      const reply = await call('GET', path);
      expect(reply.status, path).toBe(401);
      expect(reply.type, path).toContain('application/problem+json');
    }
    recordFigure({ suite: 'security', case: 'API: market data without a credential', allowed: 0, outcome: 'pass' });
  });

  it('refuses forged, unsigned, algorithm-confused, expired and tampered access tokens', async () => {
    const tokens = await attackTokens(loadAuthConfig({}), alice.id, alice.token);
    for (const { attack, token } of tokens) {
      const reply = await call('GET', '/api/auth/me', { token });
      expect(reply.status, attack).toBe(401);
      expect(reply.type, attack).toContain('application/problem+json');
      const universes = await call('POST', '/api/users/universe', { token, body: { key: 'forged', name: 'x', symbols: ['AAPL'] } });
      expect(universes.status, attack).toBe(401);
    }
    expect((await call('GET', '/api/auth/me', { token: alice.token })).status).toBe(200);
    // An expired token of the real issuer: issued with a clock two hours back.
    const expired = await new TokenService(loadAuthConfig({}), () => Date.now() - 2 * 3600_000).issueAccessToken({ userId: alice.id });
    expect((await call('GET', '/api/auth/me', { token: expired.token })).status).toBe(401);
    recordFigure({ suite: 'security', case: 'API JWT attacks', tokensTried: tokens.length + 1, accepted: 0, outcome: 'pass' });
  });

  it('detects refresh-token reuse and revokes the whole family', async () => {
    const carol = await register('carol@chaos.test', 'carol-chaos-password-1a2b3c');
    const first = await call('POST', '/api/auth/refresh', { body: { refresh_token: carol.refresh } });
    expect(first.status, first.text).toBe(200);
    const next = (first.body as { refresh_token: string }).refresh_token;
    secrets.push(next, (first.body as { access_token: string }).access_token);
    // The legitimate holder moves on with its successor (a replay before that, within API_REFRESH_GRACE_SECONDS, is a
    // second tab and gets the same successor: issue 18 item 9).
    const second = await call('POST', '/api/auth/refresh', { body: { refresh_token: next } });
    expect(second.status, second.text).toBe(200);
    const latest = (second.body as { refresh_token: string }).refresh_token;
    secrets.push(latest, (second.body as { access_token: string }).access_token);
    const replay = await call('POST', '/api/auth/refresh', { body: { refresh_token: carol.refresh } });
    expect(replay.status).toBe(401);
    expect(replay.type).toContain('application/problem+json');
    // The thief's replay also burns the legitimate holder's newer token.
    expect((await call('POST', '/api/auth/refresh', { body: { refresh_token: latest } })).status).toBe(401);
    recordFigure({ suite: 'security', case: 'API refresh-token reuse', reuseRefused: true, familyRevoked: true, outcome: 'pass' });
  });

  it('rate-limits a brute-force login', async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 30; attempt += 1) {
      const reply = await call('POST', '/api/auth/login', {
        target: strict,
        body: { email: 'alice@chaos.test', password: `guess-number-${attempt}-xxxx` },
      });
      expectClientError(reply, `login attempt ${attempt}`);
      statuses.push(reply.status);
    }
    const limited = statuses.filter((status) => status === 429).length;
    expect(statuses.filter((status) => status === 200)).toEqual([]);
    expect(limited).toBeGreaterThanOrEqual(20);
    const right = await call('POST', '/api/auth/login', { target: strict, body: { email: 'alice@chaos.test', password: PASSWORD_A } });
    expect(right.status).toBe(429);
    recordFigure({
      suite: 'security',
      case: 'API brute-force login (limit 5/min per IP)',
      attempts: 30,
      refused429: limited,
      succeeded: 0,
      outcome: 'pass',
    });
  });

  it("keeps user B away from user A's universes and API keys", async () => {
    const created = await call('POST', '/api/users/universe', {
      token: alice.token,
      body: { key: 'alice_secret', name: 'Alice only', symbols: ['AAPL', 'MSFT'] },
    });
    expect(created.status, created.text).toBe(201);
    const key = await call('POST', '/api/auth/api-keys', { token: alice.token, body: { name: 'alice key' } });
    expect(key.status, key.text).toBe(201);
    const aliceKey = key.body as { id: string; key: string };
    secrets.push(aliceKey.key);
    // Universe keys are per user: B writing "alice_secret" creates or changes B's own universe, never A's.
    const attempts = [
      await call('GET', '/api/users/universe/alice_secret', { token: bob.token }),
      await call('PATCH', '/api/users/universe/alice_secret', { token: bob.token, body: { name: 'mine now' } }),
      await call('DELETE', '/api/users/universe/alice_secret', { token: bob.token }),
      await call('GET', '/api/patterns/scan?universe=alice_secret', { token: bob.token }),
      await call('DELETE', `/api/auth/api-keys/${aliceKey.id}`, { token: bob.token }),
      await call('GET', '/api/users/universe/alice_secret'),
    ];
    for (const reply of attempts) {
      expect(reply.status, reply.text).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
      expect(reply.text).not.toContain('Alice only');
    }
    const put = await call('PUT', '/api/users/universe/alice_secret', { token: bob.token, body: { name: 'Bob copy', symbols: ['XOM'] } });
    expect(put.text).not.toContain('Alice only');
    expect(put.text).not.toContain('MSFT');
    await call('DELETE', '/api/users/universe/alice_secret', { token: bob.token });
    const bobList = await call('GET', '/api/users/universe', { token: bob.token });
    expect(bobList.text).not.toContain('alice_secret');
    const still = await call('GET', '/api/users/universe/alice_secret', { token: alice.token });
    expect(still.status).toBe(200);
    expect(still.text).toContain('Alice only');
    expect((still.body as { symbols: string[] }).symbols).toEqual(['AAPL', 'MSFT']);
    // A key without the manage scope (the default) cannot manage keys: a leaked key mints no successor.
    expect((await call('GET', '/api/auth/api-keys', { headers: { 'x-api-key': aliceKey.key } })).status).toBe(403);
    expect((await call('POST', '/api/auth/api-keys', { headers: { 'x-api-key': aliceKey.key }, body: { name: 'successor' } })).status).toBe(
      403,
    );
    const manager = await call('POST', '/api/auth/api-keys', { token: alice.token, body: { name: 'alice manager', scopes: ['manage'] } });
    const managerKey = (manager.body as { key: string }).key;
    secrets.push(managerKey);
    const keys = await call('GET', '/api/auth/api-keys', { headers: { 'x-api-key': managerKey } });
    expect(keys.status).toBe(200);
    expect(keys.text).toContain(aliceKey.id);
    recordFigure({
      suite: 'security',
      case: "API: user B vs user A's universe and API key",
      attempts: attempts.length,
      allowed: 0,
      outcome: 'pass',
    });
  });

  it('refuses oversized bodies (413) and survives huge query strings', async () => {
    const big = { key: 'big', name: 'big', symbols: Array.from({ length: 40_000 }, (_, index) => `S${index}`) };
    const reply = await call('POST', '/api/users/universe', { token: alice.token, body: big });
    expect(reply.status).toBe(413);
    expect(reply.type).toContain('application/problem+json');
    // 5 MB: the server answers 413 as soon as the limit is passed and may close the socket while the client still sends.
    const huge = await call('POST', '/api/auth/login', { rawBody: `{"email":"${'a'.repeat(5_000_000)}"}` }).catch((error: Error) => error);
    if (!(huge instanceof Error)) expect(huge.status).toBe(413);
    const longQuery = await call('GET', `/api/patterns/scan?symbols=${'A,'.repeat(4000)}`, { token: alice.token });
    expectClientError(longQuery, 'long query');
    expect((await call('GET', '/api/auth/me', { token: alice.token })).status).toBe(200);
    recordFigure({
      suite: 'security',
      case: 'API oversized payloads',
      bodies: [JSON.stringify(big).length, 5_000_000],
      outcome: '413 problem+json; server up',
    });
  });

  it('never writes passwords, tokens or API keys to its logs', () => {
    const text = logs.map((log) => log.text()).join('\n');
    expect(text.length).toBeGreaterThan(0);
    expect(leakedSecrets(text, [...secrets, loadAuthConfig({}).JWT_SECRET])).toEqual([]);
    expect(tally.status5xx).toBe(0);
    recordFigure({
      suite: 'security',
      case: 'API logs (debug level) searched for secrets',
      secretsSearched: secrets.length + 1,
      logBytes: text.length,
      leaked: 0,
      requests: tally.requests,
      status5xx: tally.status5xx,
      outcome: 'pass',
    });
  });
});
