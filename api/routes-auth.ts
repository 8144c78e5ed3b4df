import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AccountError, type Accounts, type UserView } from '../store/accounts/accounts.js';
import { requireScope, requireUser, type ApiEnv, type ApiServices } from './context.js';
import { ApiError } from './errors.js';
import { body, bodyErrors, commonErrors, notModified, credentialRequired, json, problem } from './openapi-responses.js';
import { weakPasswordReason } from './passwords.js';
import {
  ApiKeyCreatedSchema,
  ApiKeyCreateSchema,
  ApiKeyParamSchema,
  ApiKeySchema,
  CredentialsSchema,
  RefreshSchema,
  TokenResponseSchema,
  UserSchema,
} from './schemas.js';

/** /api/auth: accounts, sessions (access and refresh tokens) and API keys. */

const registerRoute = createRoute({
  method: 'post',
  path: '/api/auth/register',
  operationId: 'registerUser',
  tags: ['auth'],
  summary: 'Create an account; returns an access token and a refresh token',
  description:
    'The password must have at least 12 characters and not be common or predictable (repetition, sequences, keyboard walks, your email): NIST SP 800-63B.',
  security: [],
  request: { body: body(CredentialsSchema) },
  responses: {
    ...bodyErrors,
    201: json(TokenResponseSchema, 'Account created'),
    409: problem('Email already registered'),
    ...commonErrors,
  },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/api/auth/login',
  operationId: 'login',
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
  operationId: 'refreshTokens',
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
  operationId: 'logout',
  tags: ['auth'],
  summary: 'Revoke the refresh-token family of this session',
  security: [],
  request: { body: body(RefreshSchema) },
  responses: { ...bodyErrors, 204: { description: 'Signed out' }, ...commonErrors },
});

const meRoute = createRoute({
  method: 'get',
  path: '/api/auth/me',
  operationId: 'getCurrentUser',
  tags: ['auth'],
  summary: 'The signed-in user',
  security: credentialRequired,
  responses: { 200: json(UserSchema, 'The user'), ...notModified, ...commonErrors },
});

const createKeyRoute = createRoute({
  method: 'post',
  path: '/api/auth/api-keys',
  operationId: 'createApiKey',
  tags: ['auth'],
  summary: 'Create an API key (the full key is returned once; only its hash is stored)',
  description:
    'Key management needs a signed-in session (access token) or a key with the `manage` scope. New keys get `read` and `stream` unless `scopes` says otherwise; `manage` only when asked for.',
  security: credentialRequired,
  request: { body: body(ApiKeyCreateSchema) },
  responses: {
    ...bodyErrors,
    201: json(ApiKeyCreatedSchema, 'Created'),
    409: problem('You have the most active API keys allowed (25)'),
    ...commonErrors,
  },
});

const listKeysRoute = createRoute({
  method: 'get',
  path: '/api/auth/api-keys',
  operationId: 'listApiKeys',
  tags: ['auth'],
  summary: 'Your API keys (without secrets)',
  description: 'Needs a signed-in session or a key with the `manage` scope.',
  security: credentialRequired,
  responses: { 200: json(z.object({ data: z.array(ApiKeySchema) }), 'Keys'), ...notModified, ...commonErrors },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/api/auth/api-keys/{id}',
  operationId: 'revokeApiKey',
  tags: ['auth'],
  summary: 'Revoke one of your API keys',
  description: 'Needs a signed-in session or a key with the `manage` scope.',
  security: credentialRequired,
  request: { params: ApiKeyParamSchema },
  responses: { 204: { description: 'Revoked' }, 404: problem('No such active key of yours'), ...commonErrors },
});

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

export function registerAuthRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const accounts: Accounts = services.accounts;

  app.openapi(registerRoute, async (c) => {
    const { email, password } = c.req.valid('json');
    const weak = weakPasswordReason(password, email);
    if (weak) throw new ApiError('validation', `password ${weak}`, [{ field: 'password', message: weak }]);
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
    if (!user) throw new ApiError('unauthorized', 'the account of this token no longer exists');
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
}
