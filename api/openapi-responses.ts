import type { z } from '@hono/zod-openapi';
import { ProblemSchema } from './problem.js';

/** OpenAPI pieces every route module uses: responses, request bodies and security requirements. */

export const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

/** Error responses every API route may give. */
export const commonErrors = {
  400: problem('Invalid request: `errors` names each bad field'),
  401: problem('Missing, invalid or expired credentials'),
  403: problem('The API key lacks the scope this route needs, or the resource is read-only'),
  429: problem('Rate limit exceeded; see Retry-After'),
  500: problem('Internal error'),
  503: problem('The database is unavailable (restarting) or the query ran past the statement timeout; retry after Retry-After'),
};

/** Every GET under /api/ answers If-None-Match with a 304 when its weak ETag matches (middleware/etag.ts). */
export const notModified = { 304: { description: 'Not modified: the ETag matches If-None-Match (no body)' } };

/** Responses of every route that takes a JSON body. */
export const bodyErrors = { 413: problem('Body larger than 256 KiB'), 415: problem('Body is not application/json') };

/** An access token or an API key; market data is licensed per user (unless API_PUBLIC_DATA=true). */
export const credentialRequired: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** A credential adds the caller's own resources to the answer. */
export const credentialOptional: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }, {}];
