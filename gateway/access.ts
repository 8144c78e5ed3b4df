import { AuthError, type TokenService } from '../platform/index.js';
import { findUser, verifyApiKey } from '../store/accounts/credentials.js';
import { resolveUniverse } from '../store/accounts/universes.js';
import type { Queryable } from '../store/queryable.js';

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

/** Access tokens through the platform TokenService; users and API keys through the accounts store (store/accounts/), as the API does. */
export function createAuthenticator(tokens: TokenService, db: Queryable | undefined): Authenticator {
  return {
    async authenticate(credentials) {
      if (credentials.token !== undefined) {
        const claims = await tokens.verifyAccessToken(credentials.token);
        // A validly signed token outlives a deleted account until it expires: with the accounts database at hand, a
        // connection (long-lived, unlike a REST read) is refused for a user who no longer exists.
        if (db && !(await findUser(db, claims.userId))) throw new AuthError('token_invalid', 'the token belongs to no user');
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

/** Universes resolved as the API resolves them (store/accounts/universes.ts); without a database, built-ins only. */
export function createUniverseResolver(db: Queryable | undefined): UniverseResolver {
  return {
    async symbolsFor(userId, key) {
      return (await resolveUniverse(db, userId, key))?.symbols;
    },
  };
}
