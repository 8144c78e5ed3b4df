import { describe, expect, it } from 'vitest';
import { chooseLeaseHolder, decodeClaim, encodeClaim, stepLease, type LeaseCandidate, type LeaseRole } from './lease-core.js';

/** A member waiting since `waitingSinceMs`, holding the lease since `holdingSinceMs` (null: a standby). */
const member = (memberId: string, holdingSinceMs: number | null, waitingSinceMs: number): LeaseCandidate => ({
  memberId,
  claim: { instance: `ingest-${memberId}`, holdingSinceMs, waitingSinceMs },
});

describe('chooseLeaseHolder', () => {
  it('keeps the lease with its holder when a standby joins, even one waiting longer', () => {
    expect(chooseLeaseHolder([member('b', null, 1), member('a', 60, 50)])).toBe('a');
  });

  it('gives it to the longest-waiting standby when the holder is gone', () => {
    expect(chooseLeaseHolder([member('c', null, 30), member('b', null, 20), member('d', null, 40)])).toBe('b');
  });

  it('decides ties by member id, so every leader decides the same', () => {
    expect(chooseLeaseHolder([member('y', null, 5), member('x', null, 5)])).toBe('x');
    expect(chooseLeaseHolder([member('x', null, 5), member('y', null, 5)])).toBe('x');
    expect(chooseLeaseHolder([member('y', 7, 5), member('x', 7, 5)])).toBe('x');
  });

  it('resolves two claimed holders (one froze, was taken over and came back) to the newest holder, whose producer fenced the other', () => {
    // a held it since 10, froze; b (waiting since 3) took over at 7000; a comes back still claiming it.
    expect(chooseLeaseHolder([member('a', 10, 1), member('b', 7000, 3), member('c', null, 2)])).toBe('b');
  });

  it('gives a member whose claim it cannot read the lease only when nobody else is there', () => {
    expect(chooseLeaseHolder([{ memberId: 'a', claim: undefined }, member('z', null, 99)])).toBe('z');
    expect(chooseLeaseHolder([{ memberId: 'a', claim: undefined }])).toBe('a');
    expect(chooseLeaseHolder([])).toBeUndefined();
  });
});

describe('claims on the wire', () => {
  it('round-trip, and anything unreadable is no claim', () => {
    const claim = { instance: 'host-1', holdingSinceMs: 2000, waitingSinceMs: 1234 };
    expect(decodeClaim(encodeClaim(claim))).toEqual(claim);
    expect(decodeClaim(encodeClaim({ ...claim, holdingSinceMs: null }))).toEqual({ ...claim, holdingSinceMs: null });
    expect(decodeClaim(Buffer.from('{"instance":"x","waitingSinceMs":1,"holdingSinceMs":"yes"}'))).toBeUndefined();
    expect(decodeClaim(Buffer.from('not json'))).toBeUndefined();
    expect(decodeClaim(Buffer.from('{"instance":1}'))).toBeUndefined();
    expect(decodeClaim(Buffer.alloc(0))).toBeUndefined();
    expect(decodeClaim(null)).toBeUndefined();
  });
});

describe('stepLease', () => {
  const run = (events: Parameters<typeof stepLease>[1][], start: LeaseRole = 'joining') => {
    let role = start;
    return events.map((event) => {
      const step = stepLease(role, event);
      role = step.role;
      return step;
    });
  };

  it('the first member becomes active at once; a later one waits as a standby', () => {
    expect(run([{ kind: 'assigned', holds: true }])).toEqual([{ role: 'active', action: 'activate', takeover: false }]);
    expect(run([{ kind: 'assigned', holds: false }])).toEqual([{ role: 'standby', action: 'none', takeover: false }]);
  });

  it('a standby given the lease takes over; rebalances that keep it change nothing', () => {
    expect(
      run([
        { kind: 'assigned', holds: false },
        { kind: 'assigned', holds: false },
        { kind: 'assigned', holds: true },
        { kind: 'assigned', holds: true },
      ]).map((step) => [step.role, step.action, step.takeover]),
    ).toEqual([
      ['standby', 'none', false],
      ['standby', 'none', false],
      ['active', 'activate', true],
      ['active', 'none', false],
    ]);
  });

  it('an active instance not given the lease again stops writing, for good', () => {
    expect(
      run([
        { kind: 'assigned', holds: true },
        { kind: 'assigned', holds: false },
        { kind: 'assigned', holds: true },
      ]).map((step) => [step.role, step.action]),
    ).toEqual([
      ['active', 'activate'],
      ['lost', 'deactivate'],
      ['lost', 'none'],
    ]);
  });

  it('fenced by the log, or out of the group, it stops whatever it was', () => {
    for (const role of ['joining', 'standby', 'active'] as const) {
      expect(stepLease(role, { kind: 'fenced' })).toEqual({ role: 'lost', action: 'deactivate', takeover: false });
      expect(stepLease(role, { kind: 'group-failed' })).toEqual({ role: 'lost', action: 'deactivate', takeover: false });
    }
  });
});
