import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AccountError, type Accounts, type UserView } from './accounts.js';
import { requireScope, requireUser, type ApiEnv, type ApiServices } from './context.js';
import { weakPasswordReason } from './passwords.js';
import { HttpProblem, ProblemSchema } from './problem.js';
import { commonErrors, contentEtag, json } from './routes-patterns.js';
import {
  ApiKeyCreatedSchema,
  ApiKeyCreateSchema,
  ApiKeyParamSchema,
  ApiKeySchema,
  CredentialsSchema,
  RefreshSchema,
  TokenResponseSchema,
  UniverseKeyParamSchema,
  UniverseListSchema,
  UniversePatchSchema,
  UniverseViewSchema,
  UserSchema,
} from './schemas.js';
import { BUILTIN_UNIVERSES, findBuiltinUniverse, UniverseInputSchema, type Universe } from './universes.js';

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
/** Responses of every route that takes a JSON body. */
const bodyErrors = { 413: problem('Body larger than 256 KiB'), 415: problem('Body is not application/json') };
const authenticated: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];
const optionalAuth: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }, {}];

const registerRoute = createRoute({
  method: 'post',
  path: '/api/auth/register',
  tags: ['auth'],
  summary: 'Create an account; returns an access token and a refresh token',
  description: 'The password must have at least 12 characters and not be common or predictable (repetition, sequences, keyboard walks, your email): NIST SP 800-63B.',
  security: [],
  request: { body: body(CredentialsSchema) },
  responses: { ...bodyErrors, 201: json(TokenResponseSchema, 'Account created'), 409: problem('Email already registered'), ...commonErrors },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/api/auth/login',
  tags: ['auth'],
  summary: 'Exchange email and password for tokens (starts a refresh-token family)',
  description: 'Failed logins are limited per IP and per account (API_LOGIN_FAILURES_PER_ACCOUNT per 15 minutes): past either, 429.',
  security: [],
  request: { body: body(CredentialsSchema) },
  responses: { ...bodyErrors, 200: json(TokenResponseSchema, 'Signed in'), ...commonErrors },
});

const refreshRoute = createRoute({
  method: 'post',
  path: '/api/auth/refresh',
  tags: ['auth'],
  summary: 'Rotate a refresh token: returns a new access token and the next refresh token',
  description:
    'Each refresh token works once. Presented again within API_REFRESH_GRACE_SECONDS (two tabs refreshing at once), it returns the same successor; later, it revokes every token of its family (reuse detection).',
  security: [],
  request: { body: body(RefreshSchema) },
  responses: { ...bodyErrors, 200: json(TokenResponseSchema, 'Rotated'), ...commonErrors },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/api/auth/logout',
  tags: ['auth'],
  summary: 'Revoke the refresh-token family of this session',
  security: [],
  request: { body: body(RefreshSchema) },
  responses: { ...bodyErrors, 204: { description: 'Signed out' }, ...commonErrors },
});

const meRoute = createRoute({
  method: 'get',
  path: '/api/auth/me',
  tags: ['auth'],
  summary: 'The signed-in user',
  security: authenticated,
  responses: { 200: json(UserSchema, 'The user'), ...commonErrors },
});

const createKeyRoute = createRoute({
  method: 'post',
  path: '/api/auth/api-keys',
  tags: ['auth'],
  summary: 'Create an API key (the full key is returned once; only its hash is stored)',
  description: 'Key management needs a signed-in session (access token) or a key with the `manage` scope. New keys get `read` and `stream` unless `scopes` says otherwise; `manage` only when asked for.',
  security: authenticated,
  request: { body: body(ApiKeyCreateSchema) },
  responses: { ...bodyErrors, 201: json(ApiKeyCreatedSchema, 'Created'), 409: problem('You have the most active API keys allowed (25)'), ...commonErrors },
});

const listKeysRoute = createRoute({
  method: 'get',
  path: '/api/auth/api-keys',
  tags: ['auth'],
  summary: 'Your API keys (without secrets)',
  description: 'Needs a signed-in session or a key with the `manage` scope.',
  security: authenticated,
  responses: { 200: json(z.object({ data: z.array(ApiKeySchema) }), 'Keys'), ...commonErrors },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/api/auth/api-keys/{id}',
  tags: ['auth'],
  summary: 'Revoke one of your API keys',
  description: 'Needs a signed-in session or a key with the `manage` scope.',
  security: authenticated,
  request: { params: ApiKeyParamSchema },
  responses: { 204: { description: 'Revoked' }, 404: problem('No such active key of yours'), ...commonErrors },
});

const listUniversesRoute = createRoute({
  method: 'get',
  path: '/api/users/universe',
  tags: ['universes'],
  summary: 'Built-in universes, and your own universes and watchlists when signed in',
  security: optionalAuth,
  responses: { 200: json(UniverseListSchema, 'Universes'), 304: { description: 'Not modified' }, ...commonErrors },
});

const getUniverseRoute = createRoute({
  method: 'get',
  path: '/api/users/universe/{key}',
  tags: ['universes'],
  summary: 'One universe: a built-in, or one of your own',
  security: optionalAuth,
  request: { params: UniverseKeyParamSchema },
  responses: { 200: json(UniverseViewSchema, 'The universe'), 304: { description: 'Not modified' }, 404: problem('No such universe of yours'), ...commonErrors },
});

const createUniverseRoute = createRoute({
  method: 'post',
  path: '/api/users/universe',
  tags: ['universes'],
  summary: 'Create a universe or watchlist',
  security: authenticated,
  request: { body: body(UniverseInputSchema) },
  responses: { ...commonErrors, ...bodyErrors, 201: json(UniverseViewSchema, 'Created'), 403: problem('Built-in keys are read-only, or the API key lacks the read scope'), 409: problem('You already have a universe with this key, or the most universes allowed (200)') },
});

const replaceUniverseRoute = createRoute({
  method: 'put',
  path: '/api/users/universe/{key}',
  tags: ['universes'],
  summary: 'Replace (or create) one of your universes',
  security: authenticated,
  request: { params: UniverseKeyParamSchema, body: body(UniverseInputSchema.omit({ key: true })) },
  responses: {
    ...commonErrors,
    ...bodyErrors,
    200: json(UniverseViewSchema, 'Replaced'),
    201: json(UniverseViewSchema, 'Created'),
    403: problem('Built-in universes are read-only, or the API key lacks the read scope'),
    409: problem('You have the most universes allowed (200)'),
  },
});

const patchUniverseRoute = createRoute({
  method: 'patch',
  path: '/api/users/universe/{key}',
  tags: ['universes'],
  summary: 'Change some fields of one of your universes; add_symbols/remove_symbols edit the list in place',
  security: authenticated,
  request: { params: UniverseKeyParamSchema, body: body(UniversePatchSchema) },
  responses: { ...commonErrors, ...bodyErrors, 200: json(UniverseViewSchema, 'Updated'), 403: problem('Built-in universes are read-only, or the API key lacks the read scope'), 404: problem('No such universe of yours') },
});

const deleteUniverseRoute = createRoute({
  method: 'delete',
  path: '/api/users/universe/{key}',
  tags: ['universes'],
  summary: 'Delete one of your universes',
  security: authenticated,
  request: { params: UniverseKeyParamSchema },
  responses: { ...commonErrors, 204: { description: 'Deleted' }, 403: problem('Built-in universes are read-only, or the API key lacks the read scope'), 404: problem('No such universe of yours') },
});

function universeView(universe: Universe & { created_at?: string; updated_at?: string }) {
  return {
    key: universe.key,
    name: universe.name,
    description: universe.description,
    kind: universe.kind,
    category: universe.category,
    count: universe.symbols.length,
    symbols: [...universe.symbols],
    criteria: { ...universe.criteria },
    created_at: universe.created_at ?? null,
    updated_at: universe.updated_at ?? null,
  };
}

function refuseBuiltin(key: string): void {
  if (findBuiltinUniverse(key)) throw new HttpProblem(403, `${key} is a built-in universe and cannot be changed`);
}

async function tokensFor(c: Context<ApiEnv>, services: ApiServices, user: UserView, refresh: { token: string; expiresAt: number }) {
  const access = await services.deps.tokens.issueAccessToken({ userId: user.id, email: user.email });
  return {
    user,
    access_token: access.token,
    token_type: 'Bearer' as const,
    expires_at: new Date(access.expiresAt).toISOString(),
    refresh_token: refresh.token,
    refresh_expires_at: new Date(refresh.expiresAt).toISOString(),
  };
}

/** Account errors -> HTTP. Refresh failures are all 401; the detail says which (expired, reused, invalid). */
export function accountProblem(error: AccountError): HttpProblem {
  switch (error.code) {
    case 'email_taken':
    case 'exists':
    case 'limit_reached':
      return new HttpProblem(409, error.message);
    case 'not_found':
      return new HttpProblem(404, error.message);
    case 'read_only':
      return new HttpProblem(403, error.message);
    case 'too_many_symbols': {
      const field = error.message.split(':')[0]!;
      return new HttpProblem(400, error.message, [{ field, message: error.message.slice(field.length + 2) }]);
    }
    case 'user_gone':
    case 'bad_credentials':
    case 'refresh_invalid':
    case 'refresh_expired':
    case 'refresh_reused':
      return new HttpProblem(401, error.message, undefined, { 'WWW-Authenticate': `Bearer error="invalid_token"` });
  }
}

export function registerUserRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const accounts: Accounts = services.accounts;

  app.openapi(registerRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const weak = weakPasswordReason(password, email);
    if (weak) throw new HttpProblem(400, `password ${weak}`, [{ field: 'password', message: weak }]);
    const user = await accounts.register(email, password);
    const tokens = await tokensFor(c, services, user, await accounts.startSession(user.id));
    c.header('Cache-Control', 'no-store');
    return c.json(tokens, 201);
  });

  app.openapi(loginRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    await services.loginGuard.check(email);
    let user: UserView;
    try {
      user = await accounts.login(email, password);
    } catch (error) {
      if (error instanceof AccountError && error.code === 'bad_credentials') await services.loginGuard.failed(email);
      throw error;
    }
    await services.loginGuard.succeeded(email);
    const tokens = await tokensFor(c, services, user, await accounts.startSession(user.id));
    c.header('Cache-Control', 'no-store');
    return c.json(tokens, 200);
  });

  app.openapi(refreshRoute, async (c) => {
    const next = await accounts.rotate(c.req.valid('json').refresh_token);
    const user = await accounts.findUser(next.userId);
    if (!user) throw new AccountError('refresh_invalid', 'refresh token is not valid');
    const tokens = await tokensFor(c, services, user, next);
    c.header('Cache-Control', 'no-store');
    return c.json(tokens, 200);
  });

  app.openapi(logoutRoute, async (c) => {
    await accounts.revokeSession(c.req.valid('json').refresh_token);
    return c.body(null, 204);
  });

  app.openapi(meRoute, async (c) => {
    const user = await accounts.findUser(requireUser(c.get('userId')));
    if (!user) throw new HttpProblem(401, 'the account of this token no longer exists');
    return c.json(user, 200);
  });

  app.openapi(createKeyRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    requireScope(c.get('scopes'), 'manage');
    const { name, scopes } = c.req.valid('json');
    const created = await accounts.createApiKey(userId, name, scopes);
    c.header('Cache-Control', 'no-store');
    return c.json(created, 201);
  });

  app.openapi(listKeysRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    requireScope(c.get('scopes'), 'manage');
    return c.json({ data: await accounts.listApiKeys(userId) }, 200);
  });

  app.openapi(revokeKeyRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    requireScope(c.get('scopes'), 'manage');
    await accounts.revokeApiKey(userId, c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(listUniversesRoute, async (c) => {
    const userId = c.get('userId');
    const own = userId === undefined ? [] : await accounts.listUniverses(userId);
    const data = [...BUILTIN_UNIVERSES, ...own].map(universeView);
    c.header('ETag', contentEtag(data));
    c.header('Cache-Control', 'private, no-cache');
    return c.json({ data }, 200);
  });

  app.openapi(getUniverseRoute, async (c) => {
    const key: string = c.req.valid('param').key;
    const userId = c.get('userId');
    const universe: Universe | undefined = findBuiltinUniverse(key) ?? (userId === undefined ? undefined : await accounts.findUniverse(userId, key));
    if (!universe) {
      if (userId === undefined) throw new HttpProblem(401, 'sign in to read your own universes');
      throw new HttpProblem(404, `you have no universe ${key}`);
    }
    const view = universeView(universe);
    c.header('ETag', contentEtag(view));
    c.header('Cache-Control', 'private, no-cache');
    return c.json(view, 200);
  });

  app.openapi(createUniverseRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    const input = c.req.valid('json');
    refuseBuiltin(input.key);
    return c.json(universeView(await accounts.createUniverse(userId, input)), 201);
  });

  app.openapi(replaceUniverseRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    const { key } = c.req.valid('param');
    refuseBuiltin(key);
    const parsedKey = UniverseInputSchema.shape.key.safeParse(key);
    if (!parsedKey.success) throw new HttpProblem(400, 'invalid universe key', [{ field: 'key', message: parsedKey.error.issues[0]?.message ?? 'invalid' }]);
    const { universe, created } = await accounts.replaceUniverse(userId, { ...c.req.valid('json'), key });
    return created ? c.json(universeView(universe), 201) : c.json(universeView(universe), 200);
  });

  app.openapi(patchUniverseRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    const { key } = c.req.valid('param');
    refuseBuiltin(key);
    return c.json(universeView(await accounts.patchUniverse(userId, key, c.req.valid('json'))), 200);
  });

  app.openapi(deleteUniverseRoute, async (c) => {
    const userId = requireUser(c.get('userId'));
    const { key } = c.req.valid('param');
    refuseBuiltin(key);
    await accounts.deleteUniverse(userId, key);
    return c.body(null, 204);
  });
}
