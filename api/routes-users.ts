import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Accounts } from '../store/accounts/accounts.js';
import { requireUser, type ApiEnv, type ApiServices } from './context.js';
import { contentEtag } from './etags.js';
import { ApiError } from './errors.js';
import { body, bodyErrors, commonErrors, notModified, credentialOptional, credentialRequired, json, problem } from './openapi-responses.js';
import { UniverseKeyParamSchema, UniverseListSchema, UniversePatchSchema, UniverseViewSchema } from './schemas.js';
import { BUILTIN_UNIVERSES, findBuiltinUniverse, type Universe } from '../contracts/universes.js';
import { UniverseInputSchema } from './universes.js';

/** /api/users/universe: the built-in universes, and each user's own universes and watchlists. */

const listUniversesRoute = createRoute({
  method: 'get',
  path: '/api/users/universe',
  operationId: 'listUniverses',
  tags: ['universes'],
  summary: 'Built-in universes, and your own universes and watchlists when signed in',
  security: credentialOptional,
  responses: { 200: json(UniverseListSchema, 'Universes'), ...notModified, ...commonErrors },
});

const getUniverseRoute = createRoute({
  method: 'get',
  path: '/api/users/universe/{key}',
  operationId: 'getUniverse',
  tags: ['universes'],
  summary: 'One universe: a built-in, or one of your own',
  security: credentialOptional,
  request: { params: UniverseKeyParamSchema },
  responses: {
    200: json(UniverseViewSchema, 'The universe'),
    ...notModified,
    404: problem('No such universe of yours'),
    ...commonErrors,
  },
});

const createUniverseRoute = createRoute({
  method: 'post',
  path: '/api/users/universe',
  operationId: 'createUniverse',
  tags: ['universes'],
  summary: 'Create a universe or watchlist',
  security: credentialRequired,
  request: { body: body(UniverseInputSchema) },
  responses: {
    ...commonErrors,
    ...bodyErrors,
    201: json(UniverseViewSchema, 'Created'),
    403: problem('Built-in keys are read-only, or the API key lacks the read scope'),
    409: problem('You already have a universe with this key, or the most universes allowed (200)'),
  },
});

const replaceUniverseRoute = createRoute({
  method: 'put',
  path: '/api/users/universe/{key}',
  operationId: 'replaceUniverse',
  tags: ['universes'],
  summary: 'Replace (or create) one of your universes',
  security: credentialRequired,
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
  operationId: 'updateUniverse',
  tags: ['universes'],
  summary: 'Change some fields of one of your universes; add_symbols/remove_symbols edit the list in place',
  security: credentialRequired,
  request: { params: UniverseKeyParamSchema, body: body(UniversePatchSchema) },
  responses: {
    ...commonErrors,
    ...bodyErrors,
    200: json(UniverseViewSchema, 'Updated'),
    403: problem('Built-in universes are read-only, or the API key lacks the read scope'),
    404: problem('No such universe of yours'),
  },
});

const deleteUniverseRoute = createRoute({
  method: 'delete',
  path: '/api/users/universe/{key}',
  operationId: 'deleteUniverse',
  tags: ['universes'],
  summary: 'Delete one of your universes',
  security: credentialRequired,
  request: { params: UniverseKeyParamSchema },
  responses: {
    ...commonErrors,
    204: { description: 'Deleted' },
    403: problem('Built-in universes are read-only, or the API key lacks the read scope'),
    404: problem('No such universe of yours'),
  },
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
  if (findBuiltinUniverse(key)) throw new ApiError('forbidden', `${key} is a built-in universe and cannot be changed`);
}

export function registerUserRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const accounts: Accounts = services.accounts;

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
    const universe: Universe | undefined =
      findBuiltinUniverse(key) ?? (userId === undefined ? undefined : await accounts.findUniverse(userId, key));
    if (!universe) {
      if (userId === undefined) throw new ApiError('unauthorized', 'sign in to read your own universes');
      throw new ApiError('not-found', `you have no universe ${key}`);
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
    if (!parsedKey.success)
      throw new ApiError('validation', 'invalid universe key', [
        { field: 'key', message: parsedKey.error.issues[0]?.message ?? 'invalid' },
      ]);
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
