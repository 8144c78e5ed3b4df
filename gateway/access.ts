import type pg from 'pg';
import { BUILTIN_UNIVERSES } from '../contracts/universes.js';
import { AuthError, verifyApiKey, type TokenService } from '../platform/index.js';

export interface Principal {
  readonly userId: string;
  readonly via: 'token' | 'apiKey';
}

/** Checks a client's credentials: an access token from the API, or an API key. */
export interface Authenticator {
  authenticate(credentials: { token?: string | undefined; apiKey?: string | undefined }): Promise<Principal>;
}

/** Resolves a universe key to its symbols, for one user: `undefined` when the user may not use it. */
export interface UniverseResolver {
  symbolsFor(userId: string, key: string): Promise<readonly string[] | undefined>;
}

/** Read-only universes every user may subscribe to: the API's built-ins (api/universes.ts). */
export const BUILT_IN_UNIVERSES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  BUILTIN_UNIVERSES.map((universe) => [universe.key, universe.symbols]),
);

/** Access tokens through the platform TokenService; API keys through the platform's verifyApiKey (api_keys, owned by the API). */
export function createAuthenticator(tokens: TokenService, db: Pick<pg.Pool, 'query'> | undefined): Authenticator {
  return {
    async authenticate(credentials) {
      if (credentials.token !== undefined) {
        const claims = await tokens.verifyAccessToken(credentials.token);
        // A validly signed token outlives a deleted account until it expires: with the accounts database at hand, a
        // connection (long-lived, unlike a REST read) is refused for a user who no longer exists.
        if (db) {
          const { rowCount } = await db.query('SELECT 1 FROM users WHERE id = $1::uuid', [claims.userId]);
          if (rowCount === 0) throw new AuthError('token_invalid', 'the token belongs to no user');
        }
        return { userId: claims.userId, via: 'token' };
      }
      const verified = db && credentials.apiKey !== undefined ? await verifyApiKey(db, credentials.apiKey) : undefined;
      if (!verified) throw new AuthError('api_key_invalid', 'API key invalid');
      // A key streams only with the `stream` scope (keys are created with it unless their owner chose otherwise).
      if (!verified.scopes.includes('stream')) throw new AuthError('api_key_invalid', 'API key lacks the stream scope');
      return { userId: verified.userId, via: 'apiKey' };
    },
  };
}

/** The user's own universes (user_universes, owned by the API) plus the built-in ones. */
export function createUniverseResolver(
  db: Pick<pg.Pool, 'query'> | undefined,
  builtIns: Readonly<Record<string, readonly string[]>> = BUILT_IN_UNIVERSES,
): UniverseResolver {
  return {
    async symbolsFor(userId, key) {
      if (db) {
        const { rows } = await db.query<{ symbols: string[] }>('SELECT symbols FROM user_universes WHERE user_id::text = $1 AND key = $2', [
          userId,
          key,
        ]);
        if (rows[0]) return rows[0].symbols;
      }
      return builtIns[key];
    },
  };
}
