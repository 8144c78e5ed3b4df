import { z } from '@hono/zod-openapi';
import { SYMBOL_PATTERN, UNIVERSE_KEY_PATTERN } from '../contracts/universes.js';

/** The REST API's validation of universes (zod); the domain rules are contracts/universes.ts, the reads store/accounts/. */

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
