import fc from 'fast-check';

/**
 * fast-check generators of Massive server frames for fuzzing ingest. Every generated frame carries its
 * expected outcome, derived from the protocol rules rather than from ingest's code: the good trades it
 * must produce, and the raw payload of each dead letter it must cause.
 */
export interface FuzzFrame {
  /** Builds the frame text; `nextSequence` numbers its good trades (unique per symbol, so none is a duplicate). */
  build(nextSequence: () => number): { text: string; goodSequences: number[]; deadPayloads: string[] };
  readonly label: string;
}

export const GOOD_SYMBOL = 'FUZZ';
const NOW = 1_764_000_000_000;

const goodTrade = (q: number) => ({ ev: 'T', sym: GOOD_SYMBOL, x: 4, i: `t${q}`, z: 3, p: 101.25, s: 100, c: [12, 37], t: NOW + q, q });

/** What a dead letter's raw payload holds for an item: the item re-serialised (key order as JSON.parse gives it). */
const roundTrip = (value: unknown) => JSON.stringify(JSON.parse(JSON.stringify(value)));

const oddValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  // Objects whose toString/valueOf are data, not functions: String() on them throws.
  fc.constant({ toString: 1 }),
  fc.constant({ valueOf: 'x', toString: [] }),
);

/** A trade with exactly one field made invalid (wrong type, negative, fractional, empty or missing). */
const corruptTrade = fc
  .record({
    field: fc.constantFrom('sym', 'x', 'i', 'p', 's', 't', 'q', 'c', 'z', 'ds', 'trft'),
    bad: oddValue,
    mode: fc.constantFrom('odd', 'negative', 'fraction', 'missing', 'emptyString'),
    q: fc.integer({ min: 1, max: 1_000_000 }),
  })
  .map(({ field, bad, mode, q }) => {
    const trade: Record<string, unknown> = { ...goodTrade(q), sym: 'BAD' };
    const numeric = ['x', 'p', 's', 't', 'q', 'z'].includes(field);
    if (field === 'c') trade.c = mode === 'fraction' ? [1.5] : [bad ?? 'x'];
    else if (field === 'ds') trade.ds = typeof bad === 'string' ? 7 : (bad ?? 7);
    else if (field === 'trft') trade.trft = typeof bad === 'number' ? 'x' : (bad ?? 'x');
    else if (field === 'i') trade.i = typeof bad === 'string' ? null : bad;
    else if (field === 'sym') trade.sym = mode === 'emptyString' || typeof bad === 'string' ? '' : bad;
    else if (mode === 'missing' && field !== 'z') delete trade[field];
    else if (mode === 'negative' && (field === 'p' || field === 's')) trade[field] = -1;
    else if (mode === 'fraction' && ['x', 's', 'q', 'z'].includes(field)) trade[field] = 1.5;
    else if (numeric) trade[field] = bad === null && field === 'z' ? 'z' : (bad ?? 'null');
    return trade;
  })
  // Guard: only keep items that really break a rule of the wire format.
  .filter((trade) => !isValidTrade(trade));

function isValidTrade(item: Record<string, unknown>): boolean {
  const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
  const integer = (value: unknown) => finite(value) && Number.isInteger(value);
  const optional = (value: unknown, check: (v: unknown) => boolean) => value === undefined || value === null || check(value);
  return (
    typeof item.sym === 'string' &&
    item.sym.length > 0 &&
    integer(item.x) &&
    (typeof item.i === 'string' || typeof item.i === 'number') &&
    (item.z === undefined || integer(item.z)) &&
    finite(item.p) &&
    (item.p as number) >= 0 &&
    (item.s === undefined ? typeof item.ds === 'string' : integer(item.s) && (item.s as number) >= 0) &&
    optional(item.ds, (v) => typeof v === 'string') &&
    optional(item.c, (v) => Array.isArray(v) && v.every(integer)) &&
    finite(item.t) &&
    integer(item.q) &&
    optional(item.trft, finite)
  );
}

/** Items that are not data events at all: scalars, arrays, objects without or with an unknown `ev`, bad status items. */
const junkItem = fc.oneof(
  fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 })),
  fc.dictionary(
    fc.string({ maxLength: 6 }).filter((key) => key !== 'ev'),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 4 },
  ),
  fc.record({
    ev: fc.string({ maxLength: 8 }).filter((ev) => !['T', 'Q', 'A', 'AM', 'LULD', 'FMV', 'status'].includes(ev)),
    sym: fc.string({ maxLength: 6 }),
  }),
  fc.record({ ev: fc.constant('status'), status: oddValue.filter((value) => typeof value !== 'string'), message: fc.constant('x') }),
  fc.record({
    ev: fc.constant('status'),
    status: fc.constant('success'),
    message: oddValue.filter((value) => typeof value !== 'string' && value !== null),
  }),
);

const badItem = fc.oneof(corruptTrade, junkItem);

/** A frame whose text is not a JSON array: one dead letter holding the whole text. */
const notAnArray: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  )
  .filter((text) => {
    try {
      return !Array.isArray(JSON.parse(text));
    } catch {
      return true;
    }
  })
  .map((text) => ({ label: 'not a JSON array', build: () => ({ text, goodSequences: [], deadPayloads: [text] }) }));

/** A JSON array mixing good trades with bad items, in any order. */
const mixedArray: fc.Arbitrary<FuzzFrame> = fc
  .array(fc.oneof({ arbitrary: fc.constant('good' as const), weight: 1 }, { arbitrary: badItem, weight: 2 }), {
    minLength: 1,
    maxLength: 8,
  })
  .map((slots) => ({
    label: 'array of items',
    build: (nextSequence: () => number) => {
      const goodSequences: number[] = [];
      const deadPayloads: string[] = [];
      const items = slots.map((slot) => {
        if (slot === 'good') {
          const q = nextSequence();
          goodSequences.push(q);
          return goodTrade(q);
        }
        deadPayloads.push(roundTrip(slot));
        return slot;
      });
      return { text: JSON.stringify(items), goodSequences, deadPayloads };
    },
  }));

export const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(notAnArray, mixedArray);
