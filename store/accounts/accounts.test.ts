import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../../platform/index.js';
import { Accounts } from './accounts.js';

const USER = '00000000-0000-4000-8000-000000000001';

/**
 * The api_keys table as the statements of API key verification, use and revocation see it, counting the reads.
 * `hold()` makes the next read wait until `release()`: a verification in flight while something else happens.
 */
function keyTable() {
  const rows = new Map<string, { secret_hash: string; revoked: boolean }>();
  let reads = 0;
  let touches = 0;
  let held: { resolve: () => void; promise: Promise<void> } | undefined;
  const query = async (text: string, values: unknown[] = []) => {
    const id = String(values[0]);
    const row = rows.get(id);
    if (text.startsWith('SELECT user_id, secret_hash, scopes FROM api_keys')) {
      reads += 1;
      const live = row && !row.revoked ? [{ user_id: USER, secret_hash: row.secret_hash, scopes: ['read', 'stream'] }] : [];
      const gate = held?.promise;
      held = undefined;
      if (gate) await gate;
      return { rows: live, rowCount: live.length };
    }
    if (text.startsWith('UPDATE api_keys SET last_used_at')) {
      touches += 1;
      return { rows: [], rowCount: 1 };
    }
    if (text.startsWith('UPDATE api_keys SET revoked_at')) {
      if (!row || row.revoked) return { rows: [], rowCount: 0 };
      row.revoked = true;
      return { rows: [], rowCount: 1 };
    }
    throw new Error(`unexpected statement: ${text}`);
  };
  return {
    pool: { query } as unknown as pg.Pool,
    add() {
      const key = generateApiKey();
      rows.set(key.id, { secret_hash: key.secretHash, revoked: false });
      return key;
    },
    /** A revocation by another API instance (or by hand): this instance hears nothing of it. */
    revokeElsewhere(id: string) {
      rows.get(id)!.revoked = true;
    },
    hold() {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      held = { resolve, promise };
      return resolve;
    },
    get reads() {
      return reads;
    },
    get touches() {
      return touches;
    },
  };
}

function accounts(
  table: ReturnType<typeof keyTable>,
  apiKeyCacheSeconds: number,
  clock = { now: Date.now() },
  verifiedApiKeysMax?: number,
) {
  return new Accounts(table.pool, {
    refreshTtlSeconds: 3600,
    apiKeyCacheSeconds,
    now: () => clock.now,
    ...(verifiedApiKeysMax === undefined ? {} : { verifiedApiKeysMax }),
  });
}

describe('Accounts: remembering verified API keys', () => {
  it('reads a key once per apiKeyCacheSeconds, and marks it used only when it reads it', async () => {
    const table = keyTable();
    const clock = { now: Date.now() };
    const subject = accounts(table, 5, clock);
    const { key, id } = table.add();
    for (let i = 0; i < 3; i += 1) expect(await subject.authenticateApiKey(key)).toEqual({ id, userId: USER, scopes: ['read', 'stream'] });
    expect([table.reads, table.touches]).toEqual([1, 1]);

    clock.now += 4_999;
    await subject.authenticateApiKey(key);
    expect(table.reads).toBe(1);
    clock.now += 2;
    expect((await subject.authenticateApiKey(key))?.id).toBe(id);
    expect([table.reads, table.touches]).toEqual([2, 2]);
  });

  it('refuses a key revoked through this instance at once, and one revoked elsewhere within apiKeyCacheSeconds', async () => {
    const table = keyTable();
    const clock = { now: Date.now() };
    const subject = accounts(table, 5, clock);
    const here = table.add();
    const elsewhere = table.add();
    await subject.authenticateApiKey(here.key);
    await subject.authenticateApiKey(elsewhere.key);

    await subject.revokeApiKey(USER, here.id);
    expect(await subject.authenticateApiKey(here.key)).toBeUndefined();

    table.revokeElsewhere(elsewhere.id);
    expect((await subject.authenticateApiKey(elsewhere.key))?.id).toBe(elsewhere.id); // still within the bound
    clock.now += 5_001;
    expect(await subject.authenticateApiKey(elsewhere.key)).toBeUndefined();
  });

  it('does not remember a verification that read the table before a revocation through this instance', async () => {
    const table = keyTable();
    const subject = accounts(table, 5);
    const { key, id } = table.add();
    const release = table.hold();
    const inFlight = subject.authenticateApiKey(key);
    await subject.revokeApiKey(USER, id);
    release();
    expect((await inFlight)?.id).toBe(id); // it read the key while it was valid
    expect(await subject.authenticateApiKey(key)).toBeUndefined();
  });

  it('does not remember unknown or wrong keys', async () => {
    const table = keyTable();
    const subject = accounts(table, 5);
    const { id } = table.add();
    const wrongSecret = generateApiKey().key.replace(/^tfk_[0-9a-f]{12}_/, `tfk_${id}_`);
    for (const key of [wrongSecret, wrongSecret, generateApiKey().key, 'not-a-key'])
      expect(await subject.authenticateApiKey(key)).toBeUndefined();
    expect([table.reads, table.touches]).toEqual([3, 0]); // the malformed key never reaches the table
  });

  it('remembers at most verifiedApiKeysMax keys, forgetting the least recently used first', async () => {
    const table = keyTable();
    const subject = accounts(table, 60, undefined, 2);
    const [first, second, third] = [table.add().key, table.add().key, table.add().key];
    await subject.authenticateApiKey(first);
    await subject.authenticateApiKey(second);
    await subject.authenticateApiKey(first); // first is now the most recently used
    expect(table.reads).toBe(2);
    await subject.authenticateApiKey(third); // over the cap: second goes
    await subject.authenticateApiKey(first);
    expect(table.reads).toBe(3);
    await subject.authenticateApiKey(second);
    expect(table.reads).toBe(4);
  });

  it('reads the key on every request with apiKeyCacheSeconds 0', async () => {
    const table = keyTable();
    const subject = accounts(table, 0);
    const { key } = table.add();
    for (let i = 0; i < 3; i += 1) await subject.authenticateApiKey(key);
    expect(table.reads).toBe(3);
  });
});
