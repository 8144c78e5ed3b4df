import type { Context, MiddlewareHandler } from 'hono';
import { AuthError, type ApiKeyScope, type TokenService } from '../../platform/index.js';
import type { VerifiedApiKey } from '../../store/accounts/credentials.js';
import { requireScope, type ApiEnv } from '../context.js';
import { ApiError } from '../errors.js';

/** Market data, licensed per user: a credential is required unless API_PUBLIC_DATA is set. */
const isMarketDataPath = (path: string) =>
  path === '/api/patterns' || path.startsWith('/api/patterns/') || path === '/api/symbols' || path.startsWith('/api/symbols/');

export interface AuthenticationOptions {
  readonly tokens: Pick<TokenService, 'verifyAccessToken'>;
  /** The user and scopes of a valid, unrevoked API key, or undefined (Accounts.authenticateApiKey). */
  readonly verifyApiKey: (key: string) => Promise<VerifiedApiKey | undefined>;
  /** API_PUBLIC_DATA: market data without a credential. */
  readonly publicData: boolean;
  /** Called when a credential is refused, before the refusal is thrown (the rate limits charge the caller's IP). */
  readonly onBadCredential: (c: Context<ApiEnv>) => Promise<void>;
}

/**
 * Sets `userId` and `scopes` from an access token (Authorization: Bearer) or an API key (X-API-Key, or a Bearer
 * `tfk_` key). A credential is optional per request, but one that is present must be valid. Market data needs one
 * (unless public), and an API key reaches the REST data and universes only with the `read` scope.
 */
export function authentication(options: AuthenticationOptions): MiddlewareHandler<ApiEnv> {
  const authenticate = async (
    apiKey: string | undefined,
    authorization: string | undefined,
  ): Promise<{ userId: string; scopes: readonly ApiKeyScope[] | undefined }> => {
    const bearer = authorization && /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (authorization !== undefined && !bearer) throw new ApiError('unauthorized', 'Authorization must be "Bearer <token>"');
    const key = apiKey ?? (bearer?.startsWith('tfk_') ? bearer : undefined);
    if (key === undefined) return { userId: (await options.tokens.verifyAccessToken(bearer as string)).userId, scopes: undefined };
    const verified = await options.verifyApiKey(key);
    if (!verified) throw new ApiError('unauthorized', 'API key is invalid or revoked');
    return { userId: verified.userId, scopes: verified.scopes };
  };
  return async (c, next) => {
    const apiKey = c.req.header('x-api-key');
    const authorization = c.req.header('authorization');
    if (apiKey !== undefined || authorization !== undefined) {
      try {
        const principal = await authenticate(apiKey, authorization);
        c.set('userId', principal.userId);
        c.set('scopes', principal.scopes);
      } catch (error) {
        // Failed credentials count against the strict auth limit, so API keys and tokens cannot be guessed quickly.
        if (error instanceof ApiError || error instanceof AuthError) await options.onBadCredential(c);
        throw error;
      }
    }
    const path = c.req.path;
    if (isMarketDataPath(path) && !options.publicData && c.get('userId') === undefined) {
      throw new ApiError(
        'unauthorized',
        'market data needs a credential: send an access token (Authorization: Bearer) or an API key (X-API-Key)',
        undefined,
        {
          'WWW-Authenticate': 'Bearer realm="tickflow"',
        },
      );
    }
    // A key reaches the REST API's data and universes only with `read`; key management checks `manage` itself.
    if (!path.startsWith('/api/auth/')) requireScope(c.get('scopes'), 'read');
    await next();
  };
}
