import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import { DEFAULT_API_KEY_SCOPES, generateApiKey, type ApiKeyScope } from '../../platform/auth.js';
import { normaliseSymbols, type Universe } from '../../contracts/universes.js';
import type { Queryable } from '../queryable.js';
import { findUser, verifyApiKey, type UserView, type VerifiedApiKey } from './credentials.js';
import { universeFromRow, type UniverseRow as BaseUniverseRow } from './universes.js';

export type { UserView } from './credentials.js';

/**
 * Users and their credentials in PostgreSQL: argon2id password hashes, rotating refresh tokens with reuse
 * detection, hashed API keys, and per-user universes (every query is scoped by user id). The accounts tables are
 * this folder's (migrations in store/migrations/accounts/); the gateway reads them through credentials.ts and
 * universes.ts, the functions this class uses too.
 */

/** OWASP's argon2id baseline (19 MiB, 2 passes); memory-hard so GPU guessing is expensive. */
const PASSWORD_HASH_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code:
      | 'email_taken'
      | 'bad_credentials'
      | 'refresh_invalid'
      | 'refresh_expired'
      | 'refresh_reused'
      | 'not_found'
      | 'exists'
      | 'read_only'
      | 'user_gone'
      | 'too_many_symbols'
      | 'limit_reached',
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Most symbols a universe holds (also a CHECK on user_universes, migration accounts/1796850000000). */
const MAX_UNIVERSE_SYMBOLS = 5000;

/** Most universes and watchlists one user keeps, and most unrevoked API keys: each is read on every scan or connection. */
const MAX_UNIVERSES_PER_USER = 200;
const MAX_ACTIVE_API_KEYS = 25;

/** Most verified API keys an instance remembers by default (least recently used go first). */
const VERIFIED_API_KEYS_MAX = 10_000;

/** The successor of a refresh token: HMAC keyed by the presented token, so only its holder can rebuild it from the stored seed. */
function successorToken(presented: string, seed: string): string {
  return `tfr_${createHmac('sha256', presented).update(seed).digest('base64url')}`;
}

/** Refresh tokens are 256-bit random strings; like API keys, a fast hash of them suffices. */
function newRefreshToken(): { token: string; hash: string } {
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

const userView = (row: Pick<UserRow, 'id' | 'email' | 'created_at'>): UserView => ({
  id: row.id,
  email: row.email,
  created_at: new Date(row.created_at).toISOString(),
});

export interface AccountsOptions {
  readonly refreshTtlSeconds: number;
  /** A rotated token presented again within this many seconds returns the same successor (default 0: none). */
  readonly refreshGraceSeconds?: number;
  /**
   * How long a verified API key is trusted without reading `api_keys` again (0, the default: every request reads
   * it). A key revoked through this instance stops working at once; through another, within this many seconds.
   */
  readonly apiKeyCacheSeconds?: number;
  /** Most verified API keys remembered (default VERIFIED_API_KEYS_MAX). */
  readonly verifiedApiKeysMax?: number;
  readonly now?: () => number;
}

export class Accounts {
  private readonly now: () => number;
  /** Compared against when the email is unknown, so a login takes as long whether or not the account exists. */
  private readonly decoyHash: Promise<string>;
  /** Verified API keys by the SHA-256 of the whole key (the key itself is not kept), each for apiKeyCacheSeconds. */
  private readonly verifiedKeys: LRUCache<string, VerifiedApiKey> | undefined;
  /** Revocations so far: a verification that read `api_keys` before one is not remembered. */
  private keyRevocations = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: AccountsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.decoyHash = argon2Hash(randomBytes(16).toString('hex'), PASSWORD_HASH_OPTIONS);
    const ttl = (options.apiKeyCacheSeconds ?? 0) * 1000;
    // ttlResolution 0: each read asks the clock (the default would start a timer per read to debounce it).
    this.verifiedKeys =
      ttl > 0
        ? new LRUCache({ max: options.verifiedApiKeysMax ?? VERIFIED_API_KEYS_MAX, ttl, ttlResolution: 0, perf: { now: this.now } })
        : undefined;
  }

  async register(email: string, password: string): Promise<UserView> {
    const passwordHash = await argon2Hash(password, PASSWORD_HASH_OPTIONS);
    try {
      const { rows } = await this.pool.query<UserRow>(
        'INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email, created_at',
        [email, passwordHash],
      );
      return userView(rows[0]!);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new AccountError('email_taken', 'an account with this email exists');
      throw error;
    }
  }

  async login(email: string, password: string): Promise<UserView> {
    const { rows } = await this.pool.query<UserRow>(
      'SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = lower($1)',
      [email],
    );
    const row = rows[0];
    const matches = await argon2Verify(row?.password_hash ?? (await this.decoyHash), password);
    if (!row || !matches) throw new AccountError('bad_credentials', 'email or password is wrong');
    return userView(row);
  }

  async findUser(userId: string): Promise<UserView | undefined> {
    return findUser(this.pool, userId);
  }

  /** Starts a new refresh-token family (at login or registration). */
  async startSession(userId: string): Promise<IssuedRefresh> {
    return this.insertRefresh(this.pool, userId, randomUUID());
  }

  private async insertRefresh(db: Queryable, userId: string, familyId: string, given?: string): Promise<IssuedRefresh> {
    const { token, hash } = given === undefined ? newRefreshToken() : { token: given, hash: sha256(given) };
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
      const { rows } = await client.query<{
        family_id: string;
        user_id: string;
        expires_at: Date;
        used_at: Date | null;
        revoked_at: Date | null;
        successor_seed: string | null;
      }>(
        'SELECT family_id, user_id, expires_at, used_at, revoked_at, successor_seed FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE',
        [sha256(token)],
      );
      const row = rows[0];
      if (!row || row.revoked_at !== null) {
        await client.query('ROLLBACK');
        throw new AccountError('refresh_invalid', 'refresh token is not valid');
      }
      const graceMs = (this.options.refreshGraceSeconds ?? 0) * 1000;
      if (row.used_at !== null && row.successor_seed !== null && this.now() - new Date(row.used_at).getTime() <= graceMs) {
        // Two tabs refreshing at once: the later one gets the successor the first got, while it is still unused
        // (a successor already used means the family moved on: that is a replay, handled below).
        const successor = successorToken(token, row.successor_seed);
        const { rows: next } = await client.query<{ expires_at: Date }>(
          'SELECT expires_at FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL',
          [sha256(successor)],
        );
        if (next[0]) {
          await client.query('COMMIT');
          return { token: successor, expiresAt: new Date(next[0].expires_at).getTime(), userId: row.user_id };
        }
      }
      if (row.used_at !== null) {
        await client.query('UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL', [
          row.family_id,
          new Date(this.now()).toISOString(),
        ]);
        await client.query('COMMIT');
        throw new AccountError('refresh_reused', 'refresh token was already used; every session of this login is revoked');
      }
      if (new Date(row.expires_at).getTime() <= this.now()) {
        await client.query('ROLLBACK');
        throw new AccountError('refresh_expired', 'refresh token expired');
      }
      const seed = randomBytes(16).toString('base64url');
      await client.query('UPDATE refresh_tokens SET used_at = $2, successor_seed = $3 WHERE token_hash = $1', [
        sha256(token),
        new Date(this.now()).toISOString(),
        seed,
      ]);
      const next = await this.insertRefresh(client, row.user_id, row.family_id, successorToken(token, seed));
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

  async createApiKey(
    userId: string,
    name: string,
    scopes: readonly ApiKeyScope[] = DEFAULT_API_KEY_SCOPES,
  ): Promise<ApiKeyView & { key: string }> {
    const { key, id, secretHash } = generateApiKey();
    return this.lockedForUser(userId, async (db) => {
      const { rows: counted } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
        [userId],
      );
      if (counted[0]!.n >= MAX_ACTIVE_API_KEYS)
        throw new AccountError('limit_reached', `you have ${counted[0]!.n} active API keys, the most allowed: revoke one first`);
      const { rows } = await db.query<ApiKeyRow>(
        `INSERT INTO api_keys (id, user_id, name, secret_hash, scopes) VALUES ($1, $2, $3, $4, $5) RETURNING ${API_KEY_COLUMNS}`,
        [id, userId, name, secretHash, [...new Set(scopes)]],
      );
      return { ...apiKeyView(rows[0]!), key };
    });
  }

  /**
   * Runs `write` in a transaction holding the user's row: a user deleted meanwhile is `user_gone` (401, not a
   * foreign-key 500), and concurrent creations by one user queue, so a count checked inside holds.
   */
  private async lockedForUser<T>(userId: string, write: (db: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
      if (!rowCount) throw new AccountError('user_gone', 'the account of this credential no longer exists');
      const result = await write(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async listApiKeys(userId: string): Promise<ApiKeyView[]> {
    const { rows } = await this.pool.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(apiKeyView);
  }

  async revokeApiKey(userId: string, id: string): Promise<void> {
    const { rowCount } = await this.pool.query(
      'UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
      [id, userId, new Date(this.now()).toISOString()],
    );
    if (!rowCount) throw new AccountError('not_found', 'no such active API key');
    this.keyRevocations += 1;
    const cache = this.verifiedKeys;
    if (cache) for (const [hash, verified] of [...cache.entries()]) if (verified.id === id) cache.delete(hash);
  }

  /**
   * The user and scopes of a valid, unrevoked API key, or undefined. A key verified within apiKeyCacheSeconds is
   * not read again; a read marks the key used (at most once a minute).
   */
  async authenticateApiKey(key: string): Promise<VerifiedApiKey | undefined> {
    const cache = this.verifiedKeys;
    const hash = sha256(key);
    const known = cache?.get(hash);
    if (known) return known;
    const revocations = this.keyRevocations;
    const verified = await verifyApiKey(this.pool, key);
    if (!verified) return undefined;
    if (revocations === this.keyRevocations) cache?.set(hash, verified);
    return verified;
  }

  async listUniverses(userId: string): Promise<(Universe & { created_at: string; updated_at: string })[]> {
    const { rows } = await this.pool.query<UniverseRow>(`SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 ORDER BY key`, [
      userId,
    ]);
    return rows.map(universeWithTimes);
  }

  async findUniverse(userId: string, key: string): Promise<(Universe & { created_at: string; updated_at: string }) | undefined> {
    const { rows } = await this.pool.query<UniverseRow>(`SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 AND key = $2`, [
      userId,
      key,
    ]);
    return rows[0] ? universeWithTimes(rows[0]) : undefined;
  }

  async createUniverse(userId: string, input: UniverseInput): Promise<Universe & { created_at: string; updated_at: string }> {
    return this.lockedForUser(userId, async (db) => {
      await this.refuseUniverseBeyondCap(db, userId, input.key);
      try {
        const { rows } = await db.query<UniverseRow>(
          `INSERT INTO user_universes (user_id, key, name, description, kind, symbols, criteria) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${UNIVERSE_COLUMNS}`,
          [userId, input.key, input.name, input.description, input.kind, normaliseSymbols(input.symbols), JSON.stringify(input.criteria)],
        );
        return universeWithTimes(rows[0]!);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw new AccountError('exists', `universe ${input.key} exists`);
        throw error;
      }
    });
  }

  /** PUT: replaces the universe, creating it if absent; `created` says which. */
  async replaceUniverse(
    userId: string,
    input: UniverseInput,
  ): Promise<{ universe: Universe & { created_at: string; updated_at: string }; created: boolean }> {
    return this.lockedForUser(userId, async (db) => {
      await this.refuseUniverseBeyondCap(db, userId, input.key);
      const { rows } = await db.query<UniverseRow & { inserted: boolean }>(
        `INSERT INTO user_universes (user_id, key, name, description, kind, symbols, criteria) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, kind = EXCLUDED.kind,
           symbols = EXCLUDED.symbols, criteria = EXCLUDED.criteria, updated_at = now()
         RETURNING ${UNIVERSE_COLUMNS}, (xmax = 0) AS inserted`,
        [userId, input.key, input.name, input.description, input.kind, normaliseSymbols(input.symbols), JSON.stringify(input.criteria)],
      );
      return { universe: universeWithTimes(rows[0]!), created: rows[0]!.inserted };
    });
  }

  /** A new key beyond MAX_UNIVERSES_PER_USER is refused (replacing an existing one is not a new one). */
  private async refuseUniverseBeyondCap(db: Queryable, userId: string, key: string): Promise<void> {
    const { rows } = await db.query<{ n: number; present: boolean }>(
      'SELECT count(*)::int AS n, coalesce(bool_or(key = $2), false) AS present FROM user_universes WHERE user_id = $1',
      [userId, key],
    );
    const { n, present } = rows[0]!;
    if (!present && n >= MAX_UNIVERSES_PER_USER)
      throw new AccountError('limit_reached', `you have ${n} universes, the most allowed: delete one first`);
  }

  async patchUniverse(userId: string, key: string, patch: UniversePatch): Promise<Universe & { created_at: string; updated_at: string }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<UniverseRow>(
        `SELECT ${UNIVERSE_COLUMNS} FROM user_universes WHERE user_id = $1 AND key = $2 FOR UPDATE`,
        [userId, key],
      );
      const current = rows[0];
      if (!current) throw new AccountError('not_found', `no universe ${key}`);
      let symbols = patch.symbols ?? current.symbols;
      if (patch.add_symbols) symbols = [...symbols, ...patch.add_symbols];
      if (patch.remove_symbols) {
        const removed = new Set(patch.remove_symbols);
        symbols = symbols.filter((symbol) => !removed.has(symbol));
      }
      const normalised = normaliseSymbols(symbols);
      // Checked on the locked row, so concurrent PATCHes cannot each add up to the cap.
      if (normalised.length > MAX_UNIVERSE_SYMBOLS) {
        const field = patch.add_symbols ? 'add_symbols' : 'symbols';
        throw new AccountError(
          'too_many_symbols',
          `${field}: the universe would hold ${normalised.length} symbols, more than ${MAX_UNIVERSE_SYMBOLS}`,
        );
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
          normalised,
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
  return {
    ...universeFromRow(row),
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

const API_KEY_COLUMNS = 'id, name, scopes, created_at, last_used_at, revoked_at';

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const isoOrNull = (value: Date | null) => (value === null ? null : new Date(value).toISOString());

function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    created_at: new Date(row.created_at).toISOString(),
    last_used_at: isoOrNull(row.last_used_at),
    revoked_at: isoOrNull(row.revoked_at),
  };
}
