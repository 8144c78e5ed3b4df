import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from '@hono/zod-openapi';
import { FAILURE_KINDS, type FieldError } from './errors.js';

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

/** Problem type slug and title by status: the failure kinds (errors.ts), keyed by their status. */
const KINDS_BY_STATUS = new Map<number, readonly [string, string]>(
  Object.entries(FAILURE_KINDS).map(([kind, { status, title }]) => [status, [kind, title]]),
);

function problemBody(
  status: number,
  detail: string | undefined,
  requestId: string | undefined,
  path: string,
  errors?: FieldError[],
): Problem {
  const [slug, title] = KINDS_BY_STATUS.get(status) ?? ['error', 'Error'];
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

export function problemResponse(
  c: Context,
  status: ContentfulStatusCode,
  detail?: string,
  errors?: FieldError[],
  headers?: Record<string, string>,
): Response {
  const requestId = c.get('requestId' as never) as string | undefined;
  const body = problemBody(status, detail, requestId, c.req.path, errors);
  return c.body(JSON.stringify(body), status, { 'content-type': 'application/problem+json', ...headers });
}

/** zod issues -> one {field, message} per issue; the field is the dotted path (e.g. `per_page`, `symbols.2`). */
export function fieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}
