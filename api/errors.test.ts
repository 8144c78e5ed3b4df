import { describe, expect, it } from 'vitest';
import { ApiError, FAILURE_KINDS } from './errors.js';

describe('failure kinds', () => {
  it('give each status one kind, so a status names its problem type', () => {
    const statuses = Object.values(FAILURE_KINDS).map((kind) => kind.status);
    expect(new Set(statuses).size).toBe(statuses.length);
  });

  it('give an ApiError the status of its kind', () => {
    expect(new ApiError('not-found', 'no pattern x').status).toBe(404);
    expect(new ApiError('unavailable', 'later').status).toBe(503);
  });
});
