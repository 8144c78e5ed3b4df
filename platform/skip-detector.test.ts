import { describe, expect, it } from 'vitest';
import { SkipDetector, describeSkipping, formatDuration, type SkipCause, type SkipTransition } from './skip-detector.js';

const OLD: SkipCause = { reason: 'older-than-clock', behindMs: (2 * 60 + 10) * 60_000 };

/** Feeds `perSecond` records a second for `seconds` seconds from `fromMs`; every `skipEvery`-th is skipped (1: all). */
function feed(
  detector: SkipDetector,
  fromMs: number,
  seconds: number,
  perSecond: number,
  cause: SkipCause | undefined,
  skipEvery = 1,
): SkipTransition[] {
  const transitions: SkipTransition[] = [];
  for (let second = 0; second < seconds; second += 1) {
    for (let index = 0; index < perSecond; index += 1) {
      const transition = detector.observe(fromMs + second * 1000 + index, index % skipEvery === 0 ? cause : undefined);
      if (transition) transitions.push(transition);
    }
  }
  return transitions;
}

describe('SkipDetector', () => {
  it('says once, with the reason and the lag, when (nearly) all input is skipped for a while', () => {
    const detector = new SkipDetector('processor input minute', { windowMs: 10_000, minRecords: 50 });
    const transitions = feed(detector, 0, 30, 20, OLD);
    expect(transitions).toHaveLength(1);
    expect(transitions[0]!.kind).toBe('started');
    expect(transitions[0]!.status.message).toMatch(
      /^processor input minute: input is older than the partition's clock by 2 h 10 min; is a feed replaying old data\? \(\d+ of \d+ records in the last 10 s skipped\)$/,
    );
    expect(detector.status(30_000)).toMatchObject({
      skipping: true,
      reason: 'older-than-clock',
      behindMs: OLD.behindMs,
      sinceMs: expect.any(Number),
    });
  });

  it('stays quiet while most input is applied, or when too little arrives to tell', () => {
    const detector = new SkipDetector('x', { windowMs: 10_000, minRecords: 50 });
    // Half skipped: normal enough (e.g. bars outside the session at the open).
    expect(feed(detector, 0, 30, 20, OLD, 2)).toEqual([]);
    // All skipped, but only 3 records in the window.
    const sparse = new SkipDetector('x', { windowMs: 10_000, minRecords: 50 });
    expect(feed(sparse, 0, 30, 1, OLD)).toEqual([]);
    expect(sparse.status(30_000).skipping).toBe(false);
  });

  it('ends the episode once records are applied again, or when the input stops, and can start another', () => {
    const detector = new SkipDetector('x', { windowMs: 10_000, minRecords: 50 });
    expect(feed(detector, 0, 20, 20, OLD).map((transition) => transition.kind)).toEqual(['started']);
    const recovered = feed(detector, 20_000, 20, 20, undefined);
    expect(recovered.map((transition) => transition.kind)).toEqual(['ended']);
    expect(recovered[0]!.status.skipping).toBe(false);
    expect(feed(detector, 40_000, 20, 20, { reason: 'outside-session' }).map((transition) => transition.kind)).toEqual(['started']);
    expect(detector.status(60_000).message).toContain('outside the regular trading session');
    // No input at all: the window empties and the episode ends at the next evaluation.
    expect(detector.evaluate(61_000)).toBeUndefined();
    expect(detector.evaluate(200_000)?.kind).toBe('ended');
    expect(detector.evaluate(201_000)).toBeUndefined();
  });

  it('does not flap around the threshold (hysteresis)', () => {
    const detector = new SkipDetector('x', { windowMs: 10_000, minRecords: 50, startShare: 0.95, endShare: 0.5 });
    expect(feed(detector, 0, 20, 20, OLD).map((transition) => transition.kind)).toEqual(['started']);
    // 80% skipped: below the start share, above the end share: the episode goes on, nothing is said.
    for (let index = 0; index < 800; index += 1)
      expect(detector.observe(20_000 + index * 50, index % 5 === 0 ? undefined : OLD)).toBeUndefined();
    expect(detector.status(60_000).skipping).toBe(true);
  });

  it('reports the commonest reason and the largest lag behind the clock', () => {
    const detector = new SkipDetector('x', { windowMs: 10_000, minRecords: 5 });
    for (let index = 0; index < 10; index += 1) detector.observe(1000 + index, { reason: 'late', behindMs: index * 1000 });
    detector.observe(1500, { reason: 'outside-session' });
    expect(detector.status(1999)).toMatchObject({ reason: 'late', behindMs: 9000, seen: 11, skipped: 11 });
  });
});

describe('the skip message', () => {
  it('formats durations for people', () => {
    expect(formatDuration(40_000)).toBe('40 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(180_000)).toBe('3 min');
    expect(formatDuration(7_800_000)).toBe('2 h 10 min');
    expect(formatDuration(7_200_000)).toBe('2 h');
    expect(formatDuration(3 * 86_400_000 + 3_600_000)).toBe('3 d 1 h');
    expect(formatDuration(2 * 86_400_000)).toBe('2 d');
  });

  it('names each reason', () => {
    expect(describeSkipping('s', 'older-than-clock', undefined, 1, 1, 1000)).toBe(
      "s: input is older than the partition's clock; is a feed replaying old data? (1 of 1 records in the last 1 s skipped)",
    );
    expect(describeSkipping('s', 'late', 5000, 1, 1, 1000)).toContain('after its minute was closed (5 s behind the watermark)');
    expect(describeSkipping('s', 'late', undefined, 1, 1, 1000)).toContain('after its minute was closed;');
    expect(describeSkipping('s', 'duplicate', undefined, 1, 1, 1000)).toContain('delivered already');
    expect(describeSkipping('s', 'filtered', undefined, 1, 1, 1000)).toContain('filtered out by design');
    expect(describeSkipping('s', undefined, undefined, 0, 0, 1000)).toBe('s: 0 of 0 records in the last 1 s skipped');
  });
});
