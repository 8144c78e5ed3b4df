import { createHash } from 'node:crypto';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { ApiDependencies, LoginGuard } from './context.js';
import { rateLimiter } from './middleware/rate-limit.js';
import { ApiError } from './errors.js';

const LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60;

/** Failed logins per account (lower-cased email) in a 15-minute window, across IPs and API instances. */
export function loginGuard(deps: Pick<ApiDependencies, 'config' | 'redis'>): LoginGuard {
  const limiter = rateLimiter(deps, 'login-account', deps.config.API_LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURE_WINDOW_SECONDS);
  const keyOf = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
  return {
    async check(email) {
      const state = await limiter.get(keyOf(email));
      if (state !== null && state.consumedPoints >= limiter.points) {
        const retryAfter = String(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
        throw new ApiError('rate-limited', `too many failed logins for this account; retry in ${retryAfter} s`, undefined, {
          'Retry-After': retryAfter,
        });
      }
    },
    async failed(email) {
      await limiter.consume(keyOf(email)).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      });
    },
    async succeeded(email) {
      await limiter.delete(keyOf(email));
    },
  };
}
