import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from '@hono/zod-openapi';

/** RFC 9457 problem details; every error response of the API has this shape. */
export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://tickflow.dev/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'One entry per invalid field (validation errors only)' }),
  })
  .openapi('Problem');

export type Problem = z.infer<typeof ProblemSchema>;

const TITLES: Record<number, [string, string]> = {
  400: ['validation', 'Invalid request'],
  401: ['unauthorized', 'Authentication required'],
  403: ['forbidden', 'Forbidden'],
  404: ['not-found', 'Not found'],
  409: ['conflict', 'Conflict'],
  413: ['too-large', 'Request body too large'],
  415: ['unsupported-media-type', 'Unsupported media type'],
  429: ['rate-limited', 'Too many requests'],
  500: ['internal', 'Internal error'],
  503: ['unavailable', 'Service unavailable'],
};

/** An error a handler throws to end the request with a problem response. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly errors?: { field: string; message: string }[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
  }
}

export function problemBody(status: number, detail: string | undefined, requestId: string | undefined, path: string, errors?: { field: string; message: string }[]): Problem {
  const [slug, title] = TITLES[status] ?? ['error', 'Error'];
  return {
    type: `https://tickflow.dev/problems/${slug}`,
    title,
    status,
    ...(detail ? { detail } : {}),
    instance: path,
    ...(requestId ? { request_id: requestId } : {}),
    ...(errors ? { errors } : {}),
  };
}

export function problemResponse(c: Context, status: ContentfulStatusCode, detail?: string, errors?: { field: string; message: string }[], headers?: Record<string, string>): Response {
  const requestId = c.get('requestId' as never) as string | undefined;
  const body = problemBody(status, detail, requestId, c.req.path, errors);
  return c.body(JSON.stringify(body), status, { 'content-type': 'application/problem+json', ...headers });
}

/** zod issues -> one {field, message} per issue; the field is the dotted path (e.g. `per_page`, `symbols.2`). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): { field: string; message: string }[] {
  return issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}
