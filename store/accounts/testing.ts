/** Accounts for tests of other folders (the gateway's, chaos'), written here so no test inserts into the accounts tables itself. */
import { randomUUID } from 'node:crypto';
import { DEFAULT_API_KEY_SCOPES, generateApiKey, type ApiKeyScope } from '../../platform/auth.js';
import type { Queryable } from '../queryable.js';

export interface TestApiKeyOptions {
  readonly name?: string;
  /** Default: DEFAULT_API_KEY_SCOPES (read and stream). */
  readonly scopes?: readonly ApiKeyScope[];
  readonly revoked?: boolean;
}

/** Adds an API key to a user; returns the key as a client presents it. */
export async function createTestApiKey(db: Queryable, userId: string, options: TestApiKeyOptions = {}): Promise<string> {
  const key = generateApiKey();
  await db.query(
    `INSERT INTO api_keys (id, user_id, name, secret_hash, scopes, revoked_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)`,
    [key.id, userId, options.name ?? 'test', key.secretHash, [...(options.scopes ?? DEFAULT_API_KEY_SCOPES)], options.revoked ?? false],
  );
  return key.key;
}

export interface TestAccount {
  readonly id: string;
  /** An API key with the default scopes. */
  readonly apiKey: string;
}

/** A user (no usable password) with one API key and the given universes (key → symbols). */
export async function createTestAccount(
  db: Queryable,
  options: { readonly id?: string; readonly universes?: Readonly<Record<string, readonly string[]>> } = {},
): Promise<TestAccount> {
  const id = options.id ?? randomUUID();
  await db.query('INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)', [id, `${id}@example.test`, 'x']);
  const apiKey = await createTestApiKey(db, id);
  for (const [universe, symbols] of Object.entries(options.universes ?? {})) {
    await db.query("INSERT INTO user_universes (user_id, key, name, kind, symbols) VALUES ($1, $2, $2, 'universe', $3)", [
      id,
      universe,
      [...symbols],
    ]);
  }
  return { id, apiKey };
}
