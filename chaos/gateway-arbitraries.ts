import fc from 'fast-check';

/**
 * Client frames a gateway must answer with an error frame (and nothing else): not JSON, not an object,
 * unknown types, and each known type with one field broken (wrong type, out of range, bad characters,
 * unknown extra field), plus well-formed frames naming a subscription that does not exist.
 */
const badId = fc.oneof(
  fc.constant(''),
  fc.constant('x'.repeat(65)),
  fc.constant('has space'),
  fc.constant('é'),
  fc.integer(),
  fc.constant(null),
);
const badSymbol = fc.oneof(
  fc.constant(''),
  fc.constant('A'.repeat(25)),
  fc.constant("AAPL'; DROP TABLE users;--"),
  fc.constant('A B'),
  fc.integer(),
);
const oddJson = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);
const goodId = fc.stringMatching(/^[A-Za-z0-9_]{1,12}$/);

const validSubscribe = (id: string) => ({
  type: 'subscribe',
  id,
  stream: 'patterns',
  filter: { symbols: ['AAPL'] },
  from: 'latest',
  credits: 10,
});

const brokenSubscribe = fc.oneof(
  badId.map((id) => ({ ...validSubscribe('s'), id })),
  fc
    .string({ maxLength: 10 })
    .filter((stream) => stream !== 'patterns' && stream !== 'bars')
    .map((stream) => ({ ...validSubscribe('s'), stream })),
  fc
    .oneof(fc.constant(-1), fc.constant(1.5), fc.constant(10_000_001), fc.string({ maxLength: 3 }))
    .map((credits) => ({ ...validSubscribe('s'), credits })),
  badSymbol.map((symbol) => ({ ...validSubscribe('s'), filter: { symbols: [symbol] } })),
  fc.constant({ ...validSubscribe('s'), filter: { symbols: [] } }),
  oddJson
    .filter((tiers) => !Array.isArray(tiers) || tiers.length === 0 || tiers.some((tier) => typeof tier !== 'string'))
    .map((tiers) => ({ ...validSubscribe('s'), filter: { tiers } })),
  oddJson
    .filter((from) => from !== 'latest' && from !== 'earliest' && from !== 'snapshot')
    .map((from) => ({ ...validSubscribe('s'), from })),
  fc.constant({ ...validSubscribe('s'), from: { timestamp: -5 } }),
  fc.constant({ ...validSubscribe('s'), from: { offsets: { abc: 1 } } }),
  fc
    .string({ minLength: 1, maxLength: 8 })
    .filter((key) => !['type', 'id', 'stream', 'filter', 'from', 'conflate', 'credits'].includes(key))
    .map((key) => ({ ...validSubscribe('s'), [key]: 1 })),
  oddJson.filter((conflate) => typeof conflate !== 'boolean').map((conflate) => ({ ...validSubscribe('s'), conflate })),
);

const otherFrames = fc.oneof(
  fc
    .oneof(fc.constant(0), fc.constant(-3), fc.constant(2.5), fc.constant(10_000_001), fc.string({ maxLength: 3 }))
    .map((n) => ({ type: 'credit', id: 'x', n })),
  // Well-formed, but the subscription does not exist on this connection (or belongs to another user's connection).
  goodId.map((id) => ({ type: 'credit', id: `none-${id}`, n: 5 })),
  goodId.map((id) => ({ type: 'unsubscribe', id: `none-${id}` })),
  goodId.map((id) => ({ type: 'seek', id: `none-${id}`, to: 'earliest' })),
  oddJson.map((to) => ({ type: 'seek', id: 'x', to: typeof to === 'string' ? `${to}!` : to })),
  fc.oneof(fc.constant('n'.repeat(65)), fc.integer(), fc.constant(null)).map((nonce) => ({ type: 'ping', nonce })),
  fc.constant({ type: 'auth', token: 'a', apiKey: 'b' }),
  fc.constant({ type: 'auth' }),
  fc.constant({ type: 'auth', token: '' }),
);

const unknownType = fc.oneof(
  fc
    .string({ maxLength: 12 })
    .filter((type) => !['auth', 'subscribe', 'credit', 'seek', 'unsubscribe', 'ping'].includes(type))
    .map((type) => ({ type })),
  fc.dictionary(
    fc.string({ maxLength: 6 }).filter((key) => key !== 'type'),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 4 },
  ),
  oddJson.map((type) => ({ type })).filter((frame) => typeof frame.type !== 'string'),
);

const notAnObject = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }).filter((text) => {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value !== 'object' || value === null || Array.isArray(value);
    } catch {
      return true;
    }
  }),
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((value) => typeof value !== 'object' || value === null || Array.isArray(value))
    .map((value) => JSON.stringify(value)),
);

/** A frame (as sent on the socket) that must earn exactly one error frame. */
export const badGatewayFrame: fc.Arbitrary<string> = fc.oneof(
  notAnObject,
  unknownType.map((frame) => JSON.stringify(frame)),
  brokenSubscribe.map((frame) => JSON.stringify(frame)),
  otherFrames.map((frame) => JSON.stringify(frame)),
);
