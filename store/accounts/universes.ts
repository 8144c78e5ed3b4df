import { findBuiltinUniverse, UNIVERSE_KEY_PATTERN, type Universe } from '../../contracts/universes.js';
import type { Queryable } from '../queryable.js';

/** A user_universes row as read for a universe. */
export interface UniverseRow {
  key: string;
  name: string;
  description: string;
  kind: 'universe' | 'watchlist';
  symbols: string[];
  criteria: Record<string, unknown>;
}

export function universeFromRow(row: UniverseRow): Universe {
  return {
    key: row.key,
    name: row.name,
    description: row.description,
    kind: row.kind,
    category: 'user',
    symbols: row.symbols,
    criteria: row.criteria,
  };
}

/**
 * The one resolution of a universe key, for the API's scans and the gateway's subscriptions: a built-in first (their
 * keys are reserved, so a user's row can never shadow one), else one of the user's own (never another user's).
 * Without a user, or without the accounts database, only built-ins resolve. Undefined when there is no such universe.
 */
export async function resolveUniverse(db: Queryable | undefined, userId: string | undefined, key: string): Promise<Universe | undefined> {
  const found = findBuiltinUniverse(key);
  if (found) return found;
  if (db === undefined || userId === undefined || !UNIVERSE_KEY_PATTERN.test(key)) return undefined;
  const { rows } = await db.query<UniverseRow>(
    'SELECT key, name, description, kind, symbols, criteria FROM user_universes WHERE user_id = $1 AND key = $2',
    [userId, key],
  );
  return rows[0] ? universeFromRow(rows[0]) : undefined;
}
