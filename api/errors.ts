import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The API's failure kinds. Each is one problem type (`https://tickflow.dev/problems/<kind>`, RFC 9457) with one
 * HTTP status and title. Routes and middleware throw `ApiError` with a kind; domain modules throw their own coded
 * errors (AccountError, ScanInputError, platform's AuthError), which `problemOf` (middleware/error-handler.ts)
 * maps to a kind, in that one place.
 */
export const FAILURE_KINDS = {
  validation: { status: 400, title: 'Invalid request' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  'too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { readonly status: ContentfulStatusCode; readonly title: string }>;

export type FailureKind = keyof typeof FAILURE_KINDS;

/** One invalid field of a request: `errors` of a validation problem. */
export interface FieldError {
  field: string;
  message: string;
}

/** What a problem response says: its status, detail, invalid fields and extra headers (Retry-After, WWW-Authenticate). */
export interface ProblemParts {
  readonly status: ContentfulStatusCode;
  readonly detail: string;
  readonly errors?: FieldError[] | undefined;
  readonly headers?: Record<string, string> | undefined;
}

/** A failure of a known kind: thrown to end the request with its problem response. */
export class ApiError extends Error implements ProblemParts {
  override name = 'ApiError';
  constructor(
    readonly kind: FailureKind,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
  }

  get status(): ContentfulStatusCode {
    return FAILURE_KINDS[this.kind].status;
  }
}
