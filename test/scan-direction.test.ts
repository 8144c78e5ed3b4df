import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseDirections, PATTERN_DIRECTIONS } from '../api/scan.js';
import { concernsScan, directionsOf } from '../dashboard/src/filters.js';

/**
 * The scanner keeps the live events of its directions with its own predicate (the browser bundle imports nothing of
 * the server, and the API filters in SQL: `p.direction = ANY(normaliseDirections(...))`). This checks that the two
 * agree on every direction list the API accepts: an event is kept exactly when its pattern would match the scan.
 */
describe("the scanner's live direction filter", () => {
  it("keeps exactly the events whose direction the API's scan selects", () => {
    const spelled = fc
      .constantFrom(...PATTERN_DIRECTIONS)
      .chain((direction) => fc.constantFrom(direction, direction.toLowerCase(), direction[0] + direction.slice(1).toLowerCase()));
    fc.assert(
      fc.property(fc.array(spelled, { minLength: 1, maxLength: 6 }), fc.constantFrom(...PATTERN_DIRECTIONS), (named, direction) => {
        const selected = normaliseDirections(named);
        const apiMatches = selected === undefined || selected.includes(direction);
        expect(concernsScan(directionsOf({ direction: named.join(',') }), { direction })).toBe(apiMatches);
      }),
    );
  });
});
