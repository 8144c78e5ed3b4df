import { API_KEY_SCOPES, apiKeySecretMatches, parseApiKey, type ApiKeyScope } from '../../platform/auth.js';
import type { Queryable } from '../queryable.js';

/** The checks of a credential that the API and the gateway both make, on the accounts tables (users, api_keys). */

export interface VerifiedApiKey {
  readonly id: string;
  readonly userId: string;
  readonly scopes: readonly ApiKeyScope[];
}

/**
 * The one check of an API key: its unrevoked row in `api_keys` and a constant-time comparison of its secret.
 * Undefined when the key is malformed, unknown, revoked or wrong. A valid key is marked used (`last_used_at`, at most
 * once a minute, without waiting: a failed mark must not refuse a valid key).
 */
export async function verifyApiKey(db: Queryable, key: string): Promise<VerifiedApiKey | undefined> {
  const parts = parseApiKey(key);
  if (!parts) return undefined;
  const { rows } = await db.query<{ user_id: string; secret_hash: string; scopes: string[] }>(
    'SELECT user_id, secret_hash, scopes FROM api_keys WHERE id = $1 AND revoked_at IS NULL',
    [parts.id],
  );
  const row = rows[0];
  if (!row || !apiKeySecretMatches(parts.secret, row.secret_hash)) return undefined;
  void db
    .query(
      "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
      [parts.id],
    )
    .catch(() => undefined);
  const scopes = row.scopes.filter((scope): scope is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(scope));
  return { id: parts.id, userId: String(row.user_id), scopes };
}

export interface UserView {
  id: string;
  email: string;
  created_at: string;
}

/** The user of an id (a token's subject), or undefined when the account no longer exists. */
export async function findUser(db: Queryable, userId: string): Promise<UserView | undefined> {
  const { rows } = await db.query<{ id: string; email: string; created_at: Date }>(
    'SELECT id, email, created_at FROM users WHERE id = $1',
    [userId],
  );
  const row = rows[0];
  return row ? { id: row.id, email: row.email, created_at: new Date(row.created_at).toISOString() } : undefined;
}
