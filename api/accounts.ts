import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type pg from 'pg';
import { apiKeySecretMatches, generateApiKey, parseApiKey } from '../platform/index.js';
import { normaliseSymbols, universeFromRow, type Queryable, type Universe, type UniverseRow as BaseUniverseRow } from './universes.js';

/**
 * Users and their credentials in PostgreSQL: argon2id password hashes, rotating refresh tokens with reuse
 * detection, hashed API keys, and per-user universes (every query is scoped by user id).
 */

/** OWASP's argon2id baseline (19 MiB, 2 passes); memory-hard so GPU guessing is expensive. */
export const PASSWORD_HASH_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface UserView {
  id: string;
  email: string;
  created_at: string;
}

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code: 'email_taken' | 'bad_credentials' | 'refresh_invalid' | 'refresh_expired' | 'refresh_reused' | 'not_found' | 'exists' | 'read_only',
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Refresh tokens are 256-bit random strings; like API keys, a fast hash of them suffices. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = `tfr_${randomBytes(32).toString('base64url')}`;
  return { token, hash: sha256(token) };
}

export interface IssuedRefresh {
  readonly token: string;
  readonly expiresAt: number;
  readonly userId: string;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date;
}

const userView = (row: Pick<UserRow, 'id' | 'email' | 'created_at'>): UserView => ({ id: row.id, email: row.email, created_at: new Date(row.created_at).toISOString() });

export interface AccountsOptions {
  readonly refreshTtlSeconds: number;
  readonly now?: () => number;
}

export class Accounts {
  private readonly now: () => number;
  /** Compared against when the email is unknown, so a login takes as long whether or not the account exists. */
  private readonly decoyHash: Promise<string>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: AccountsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.decoyHash = argon2Hash(randomBytes(16).toString('hex'), PASSWORD_HASH_OPTIONS);
  }

  async register(email: string, password: string): Promise<UserView> {
    const passwordHash = await argon2Hash(password, PASSWORD_HASH_OPTIONS);
    try {
      const { rows } = await this.pool.query<UserRow>('INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email, created_at', [email, passwordHash]);
      return userView(rows[0]!);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new AccountError('email_taken', 'an account with this email exists');
      throw error;
    }
  }

  async login(email: string, password: string): Promise<UserView> {
    const { rows } = await this.pool.query<UserRow>('SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = lower($1)', [email]);
    const row = rows[0];
    const matches = await argon2Verify(row?.password_hash ?? (await this.decoyHash), password);
    if (!row || !matches) throw new AccountError('bad_credentials', 'email or password is wrong');
    return userView(row);
  }

  async findUser(userId: string): Promise<UserView | undefined> {
    const { rows } = await this.pool.query<UserRow>('SELECT id, email, created_at FROM users WHERE id = $1', [userId]);
    return rows[0] ? userView(rows[0]) : undefined;
  }

  /** Starts a new refresh-token family (at login or registration). */
  async startSession(userId: string): Promise<IssuedRefresh> {
    return this.insertRefresh(this.pool, userId, randomUUID());
  }

  private async insertRefresh(db: Queryable, userId: string, familyId: string): Promise<IssuedRefresh> {
    const { token, hash } = newRefreshToken();
    const expiresAt = this.now() + this.options.refreshTtlSeconds * 1000;
    await db.query('INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      hash,
      familyId,
      userId,
      new Date(this.now()).toISOString(),
      new Date(expiresAt).toISOString(),
    ]);
    return { token, expiresAt, userId };
  }

  /**
   * Exchanges a refresh token for the next one of its family. A token works once: presenting a used token
   * again revokes the whole family (the thief's and the owner's sessions both end; the owner logs in again).
   */
  async rotate(token: string): Promise<IssuedRefresh> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ family_id: string; user_id: string; expires_at: Date; used_at: Date | null; revoked_at: Date | null }>(
        'SELECT family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE',
        [sha256(token)],
      );
      const row = rows[0];
      if (!row || row.revoked_at !== null) {
        await client.query('ROLLBACK');
        throw new AccountError('refresh_invalid', 'refresh token is not valid');
      }
      if (row.used_at !== null) {
        await client.query('UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL', [row.family_id, new Date(this.now()).toISOString()]);
        await client.query('COMMIT');
        throw new AccountError('refresh_reused', 'refresh token was already used; every session of this login is revoked');
      }
      if (new Date(row.expires_at).getTime() <= this.now()) {
        await client.query('ROLLBACK');
        throw new AccountError('refresh_expired', 'refresh token expired');
      }
      await client.query('UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1', [sha256(token), new Date(this.now()).toISOString()]);
      const next = await this.insertRefresh(client, row.user_id, row.family_id);
      await client.query('COMMIT');
      return next;
    } catch (error) {
      if (!(error instanceof AccountError)) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Logout: revokes the family of the presented token (unknown tokens are ignored). */
  async revokeSession(token: string): Promise<void> {
    await this.pool.query(
      'UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL',
      [sha256(token), new Date(this.now()).toISOString()],
    );
  }

  async createApiKey(userId: string, name: string): Promise<ApiKeyView & { key: string }> {
    const { key, id, secretHash } = generateApiKey();
    const { rows } = await this.pool.query<ApiKeyRow>(
      'INSERT INTO api_keys (id, user_id, name, secret_hash) VALUES ($1, $2, $3, $4) RETURNING id, name, created_at, last_used_at, revoked_at',
      [id, userId, name, secretHash],
    );
    return { ...apiKeyView(rows[0]!), key };
  }

  async listApiKeys(userId: string): Promise<ApiKeyView[]> {
    const { rows } = await this.pool.query<ApiKeyRow>('SELECT id, name, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = $1 ORDER BY created_at, id', [userId]);
    return rows.map(apiKeyView);
  }

  async revokeApiKey(userId: string, id: string): Promise<void> {
    const { rowCount } = await this.pool.query('UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL', [id, userId, new Date(this.now()).toISOString()]);
    if (!rowCount) throw new AccountError('not_found', 'no such active API key');
  }

  /** The user of a valid, unrevoked API key, or undefined. Marks the key used (at most once a minute). */
  async authenticateApiKey(key: string): Promise<string | undefined> {
    const parts = parseApiKey(key);
    if (!parts) return undefined;
    const { rows } = await this.pool.query<{ user_id: string; secret_hash: string; revoked_at: Date | null }>(
      'SELECT user_id, secret_hash, revoked_at FROM api_keys WHERE id = $1',
      [parts.id],
    );
    const row = rows[0];
    if (!row || row.revoked_at !== null || !apiKeySecretMatches(parts.secret, row.secret_hash)) return undefined;
    void this.pool
      .query("UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", [parts.id])
      .catch(() => undefined);
    return row.user_id;
  }

  async listUniverses(userId: string): Promise<(Universe & { created_at: string; updated_at: string })[]> {
    const { rows } = await this.pool.query<UniverseRow>(`SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 ORDER BY key`, [userId]);
    return rows.map(universeWithTimes);
  }

  async findUniverse(userId: string, key: string): Promise<(Universe & { created_at: string; updated_at: string }) | undefined> {
    const { rows } = await this.pool.query<UniverseRow>(`SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 AND key = $2`, [userId, key]);
    return rows[0] ? universeWithTimes(rows[0]) : undefined;
  }

  async createUniverse(userId: string, input: UniverseInput): Promise<Universe & { created_at: string; updated_at: string }> {
    try {
      const { rows } = await this.pool.query<UniverseRow>(
        `INSERT INTO user_universes (user_id, key, name, description, kind, symbols, criteria) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${UNIVERSE_COLUMNS}`,
        [userId, input.key, input.name, input.description, input.kind, normaliseSymbols(input.symbols), JSON.stringify(input.criteria)],
      );
      return universeWithTimes(rows[0]!);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new AccountError('exists', `universe ${input.key} exists`);
      throw error;
    }
  }

  /** PUT: replaces the universe, creating it if absent; `created` says which. */
  async replaceUniverse(userId: string, input: UniverseInput): Promise<{ universe: Universe & { created_at: string; updated_at: string }; created: boolean }> {
    const { rows } = await this.pool.query<UniverseRow & { inserted: boolean }>(
      `INSERT INTO user_universes (user_id, key, name, description, kind, symbols, criteria) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (user_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, kind = EXCLUDED.kind,
         symbols = EXCLUDED.symbols, criteria = EXCLUDED.criteria, updated_at = now()
       RETURNING ${UNIVERSE_COLUMNS}, (xmax = 0) AS inserted`,
      [userId, input.key, input.name, input.description, input.kind, normaliseSymbols(input.symbols), JSON.stringify(input.criteria)],
    );
    return { universe: universeWithTimes(rows[0]!), created: rows[0]!.inserted };
  }

  async patchUniverse(userId: string, key: string, patch: UniversePatch): Promise<Universe & { created_at: string; updated_at: string }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<UniverseRow>(`SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 AND key = $2 FOR UPDATE`, [userId, key]);
      const current = rows[0];
      if (!current) throw new AccountError('not_found', `no universe ${key}`);
      let symbols = patch.symbols ?? current.symbols;
      if (patch.add_symbols) symbols = [...symbols, ...patch.add_symbols];
      if (patch.remove_symbols) {
        const removed = new Set(patch.remove_symbols);
        symbols = symbols.filter((symbol) => !removed.has(symbol));
      }
      const updated = await client.query<UniverseRow>(
        `UPDATE user_universes SET name = $3, description = $4, kind = $5, symbols = $6, criteria = $7, updated_at = now()
          WHERE user_id = $1 AND key = $2 RETURNING ${UNIVERSE_COLUMNS}`,
        [
          userId,
          key,
          patch.name ?? current.name,
          patch.description ?? current.description,
          patch.kind ?? current.kind,
          normaliseSymbols(symbols),
          JSON.stringify(patch.criteria ?? current.criteria),
        ],
      );
      await client.query('COMMIT');
      return universeWithTimes(updated.rows[0]!);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async deleteUniverse(userId: string, key: string): Promise<void> {
    const { rowCount } = await this.pool.query('DELETE FROM user_universes WHERE user_id = $1 AND key = $2', [userId, key]);
    if (!rowCount) throw new AccountError('not_found', `no universe ${key}`);
  }
}

export interface UniverseInput {
  readonly key: string;
  readonly name: string;
  readonly description: string;
  readonly kind: 'universe' | 'watchlist';
  readonly symbols: readonly string[];
  readonly criteria: Readonly<Record<string, unknown>>;
}

export interface UniversePatch {
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  readonly kind?: 'universe' | 'watchlist' | undefined;
  readonly symbols?: readonly string[] | undefined;
  readonly add_symbols?: readonly string[] | undefined;
  readonly remove_symbols?: readonly string[] | undefined;
  readonly criteria?: Readonly<Record<string, unknown>> | undefined;
}

const UNIVERSE_COLUMNS = 'key, name, description, kind, symbols, criteria, created_at, updated_at';

type UniverseRow = BaseUniverseRow & { created_at: Date; updated_at: Date };

function universeWithTimes(row: UniverseRow): Universe & { created_at: string; updated_at: string } {
  return { ...universeFromRow(row), created_at: new Date(row.created_at).toISOString(), updated_at: new Date(row.updated_at).toISOString() };
}

export interface ApiKeyView {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const isoOrNull = (value: Date | null) => (value === null ? null : new Date(value).toISOString());

function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return { id: row.id, name: row.name, created_at: new Date(row.created_at).toISOString(), last_used_at: isoOrNull(row.last_used_at), revoked_at: isoOrNull(row.revoked_at) };
}
