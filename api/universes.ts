import { z } from '@hono/zod-openapi';
import { BUILTIN_UNIVERSES, type Universe } from '../contracts/universes.js';

export { BUILTIN_UNIVERSES, type Universe } from '../contracts/universes.js';

const builtinByKey = new Map(BUILTIN_UNIVERSES.map((universe) => [universe.key, universe]));

export function findBuiltinUniverse(key: string): Universe | undefined {
  return builtinByKey.get(key);
}

/** Keys are URL-safe slugs; built-in keys are reserved. */
export const UNIVERSE_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Tickers as Massive spells them: letters, digits, dot (BRK.B), dash; also index/crypto prefixes like I:SPX, X:BTCUSD. */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9.:-]{0,19}$/;

/** Normalised (upper-cased, de-duplicated, sorted) symbol list. */
export function normaliseSymbols(symbols: readonly string[]): string[] {
  return [...new Set(symbols.map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol.length > 0))].sort();
}

/** Deepest nesting of a universe's `criteria` (saved scan parameters are flat; PostgreSQL refuses very deep jsonb). */
export const MAX_CRITERIA_DEPTH = 8;

/** Nesting depth of a JSON value (a scalar is 0), counted without recursion and only as far as `limit` + 1. */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item as Record<string, unknown>)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/** A universe's free-form criteria: an object nested at most MAX_CRITERIA_DEPTH levels. */
export const CriteriaSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (criteria) => jsonDepth(criteria, MAX_CRITERIA_DEPTH) <= MAX_CRITERIA_DEPTH,
    `nested more than ${MAX_CRITERIA_DEPTH} levels deep`,
  );

export const UniverseInputSchema = z
  .object({
    key: z
      .string()
      .regex(UNIVERSE_KEY_PATTERN, 'lower-case letters, digits, _ or -, starting with a letter or digit, at most 64')
      .openapi({ example: 'my_tech' }),
    name: z.string().trim().min(1).max(100).openapi({ example: 'My tech names' }),
    description: z.string().max(500).default(''),
    kind: z.enum(['universe', 'watchlist']).default('watchlist'),
    symbols: z
      .array(z.string().trim().toUpperCase().regex(SYMBOL_PATTERN, 'not a ticker'))
      .max(5000)
      .openapi({ example: ['AAPL', 'MSFT'] }),
    criteria: CriteriaSchema.default({}).openapi({
      description: `Free-form description of how the list was chosen (saved filters), nested at most ${MAX_CRITERIA_DEPTH} levels`,
    }),
  })
  .strict();

/** The minimal row reader resolveUniverse needs (a pg Pool or Client satisfies it). */
export interface Queryable {
  query<Row extends object>(text: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
}

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
 * A universe visible to `userId`: a built-in, or one of the user's own (never another user's).
 * Without a user only built-ins resolve. Returns undefined when there is no such universe.
 */
export async function resolveUniverse(db: Queryable, userId: string | undefined, key: string): Promise<Universe | undefined> {
  const found = findBuiltinUniverse(key);
  if (found) return found;
  if (userId === undefined || !UNIVERSE_KEY_PATTERN.test(key)) return undefined;
  const { rows } = await db.query<UniverseRow>(
    'SELECT key, name, description, kind, symbols, criteria FROM user_universes WHERE user_id = $1 AND key = $2',
    [userId, key],
  );
  return rows[0] ? universeFromRow(rows[0]) : undefined;
}
