import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it, vi } from 'vitest';
import { AuthError, type Logger } from '../../platform/index.js';
import { AccountError } from '../../store/accounts/accounts.js';
import type { ApiEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { ScanInputError } from '../scan.js';
import { errorHandler, problemOf, routeNotFound } from './error-handler.js';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

function appThrowing(error: unknown, logger = { warn: vi.fn(), error: vi.fn() }) {
  const app = new Hono<ApiEnv>();
  app.get('/boom', () => {
    throw error;
  });
  app.notFound(routeNotFound);
  app.onError(errorHandler(logger as unknown as Logger));
  return { app, logger };
}

describe('problemOf', () => {
  it('maps each coded failure to its status, detail, fields and headers', () => {
    expect(problemOf(new ApiError('forbidden', 'no'))).toMatchObject({ status: 403, detail: 'no' });
    expect(problemOf(new ScanInputError('cursor', 'cursor is not one this API issued'))).toMatchObject({
      status: 400,
      errors: [{ field: 'cursor', message: 'cursor is not one this API issued' }],
    });
    expect(problemOf(new AuthError('token_expired', 'token expired'))).toMatchObject({
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="token_expired"' },
    });
    expect(problemOf(new HTTPException(415, { message: 'Unsupported Media Type' }))).toEqual({
      status: 415,
      detail: 'Unsupported Media Type',
    });
    expect(problemOf(pgError('23514'))).toMatchObject({ status: 400 });
    expect(problemOf(pgError('57014'))).toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
    expect(problemOf(pgError('22021'))).toMatchObject({ status: 400 });
    expect(problemOf(pgError('22P05'))).toMatchObject({ status: 400 });
  });

  it('maps account failures by code; refresh and credential failures are 401 with WWW-Authenticate', () => {
    const status = (code: AccountError['code']) => problemOf(new AccountError(code, `${code}: detail`))?.status;
    expect(['email_taken', 'exists', 'limit_reached'].map((code) => status(code as AccountError['code']))).toEqual([409, 409, 409]);
    expect(status('not_found')).toBe(404);
    expect(status('read_only')).toBe(403);
    for (const code of ['user_gone', 'bad_credentials', 'refresh_invalid', 'refresh_expired', 'refresh_reused'] as const) {
      expect(problemOf(new AccountError(code, 'x'))).toMatchObject({
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    const tooMany = problemOf(new AccountError('too_many_symbols', 'add_symbols: the universe would hold 5001 symbols, more than 5000'));
    expect(tooMany).toMatchObject({
      status: 400,
      errors: [{ field: 'add_symbols', message: 'the universe would hold 5001 symbols, more than 5000' }],
    });
  });

  it('leaves anything else unmapped (a bug)', () => {
    expect(problemOf(new Error('oops'))).toBeUndefined();
    expect(problemOf(pgError('42P01'))).toBeUndefined();
    expect(problemOf(null)).toBeUndefined();
  });
});

describe('errorHandler', () => {
  it('answers problem+json with the kind as its type', async () => {
    const { app } = appThrowing(new ApiError('rate-limited', 'slow down', undefined, { 'Retry-After': '3' }));
    const response = await app.request('/boom');
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(await response.json()).toEqual({
      type: 'https://tickflow.dev/problems/rate-limited',
      title: 'Too many requests',
      status: 429,
      detail: 'slow down',
      instance: '/boom',
    });
  });

  it('logs an unexpected error and answers 500 without its message', async () => {
    const { app, logger } = appThrowing(new Error('secret internals'));
    const response = await app.request('/boom');
    expect(response.status).toBe(500);
    expect(JSON.stringify(await response.json())).not.toContain('secret');
    expect(logger.error).toHaveBeenCalledOnce();
  });

  it('warns of a statement timeout and answers 503', async () => {
    const { app, logger } = appThrowing(pgError('57014'));
    expect((await app.request('/boom')).status).toBe(503);
    expect(logger.warn).toHaveBeenCalledOnce();
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('names the method and path no route matched', async () => {
    const { app } = appThrowing(undefined);
    const response = await app.request('/nowhere', { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect((await response.json()).detail).toBe('no route DELETE /nowhere');
  });
});
