import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './api-types.js';

export type Tokens = components['schemas']['Tokens'];
export type Pattern = components['schemas']['Pattern'];
export type Bar = components['schemas']['Bar'];
export type Universe = components['schemas']['Universe'];
export type ApiKey = components['schemas']['ApiKey'];
export type PatternStats = components['schemas']['PatternStats'];
export type PatternSummary = components['schemas']['PatternSummary'];
export type PatternCounts = components['schemas']['PatternCounts'];

/** An API answer that was not a success, in words a person can act on. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Invalid fields named by the API (problem+json `errors`). */
    readonly fields: readonly { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

const REFRESH_KEY = 'tickflow.refresh';

/**
 * The signed-in session: the access token lives in memory only; the refresh token in sessionStorage (this tab,
 * survives a reload, gone when the tab closes), rotated through /api/auth/refresh when the access token expires.
 */
export class Session {
  private accessToken: string | undefined;
  private accessExpiresAt = 0;
  private refreshing: Promise<boolean> | undefined;
  onChange: (signedIn: boolean, reason?: string) => void = () => {};
  readonly api = createClient<paths>({ baseUrl: location.origin });

  constructor() {
    this.api.use(this.middleware());
  }

  get signedIn(): boolean {
    return this.accessToken !== undefined || sessionStorage.getItem(REFRESH_KEY) !== null;
  }

  adopt(tokens: Tokens): void {
    this.accessToken = tokens.access_token;
    this.accessExpiresAt = Date.parse(tokens.expires_at);
    sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
    this.onChange(true);
  }

  /** A valid access token, refreshed first when it is missing or about to expire; undefined when signed out. */
  async token(): Promise<string | undefined> {
    if (this.accessToken && Date.now() < this.accessExpiresAt - 15_000) return this.accessToken;
    return (await this.refresh()) ? this.accessToken : undefined;
  }

  /** Rotates the refresh token once, however many callers ask at the same time. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) return false;
      const { data, error, response } = await this.api.POST('/api/auth/refresh', { body: { refresh_token: refreshToken } });
      if (data) {
        this.adopt(data);
        return true;
      }
      if (response.status === 401 || response.status === 400) this.end('Your session has expired: please sign in again.');
      else throw await problemOf(response, error);
      return false;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async signOut(): Promise<void> {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    if (refreshToken) await this.api.POST('/api/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => undefined);
    this.end();
  }

  private end(reason?: string): void {
    this.accessToken = undefined;
    sessionStorage.removeItem(REFRESH_KEY);
    this.onChange(false, reason);
  }

  private middleware(): Middleware {
    const isAuth = (url: string) =>
      new URL(url).pathname.startsWith('/api/auth/') && !url.includes('/api/auth/me') && !url.includes('/api-keys');
    return {
      onRequest: async ({ request }) => {
        if (isAuth(request.url)) return request;
        const token = await this.token();
        if (token) request.headers.set('Authorization', `Bearer ${token}`);
        return request;
      },
      onResponse: async ({ request, response }) => {
        // An access token revoked or expired early: one refresh and one retry, then the session ends.
        if (response.status !== 401 || isAuth(request.url)) return response;
        this.accessToken = undefined;
        if (!(await this.refresh())) return response;
        const retry = new Request(request);
        retry.headers.set('Authorization', `Bearer ${this.accessToken}`);
        return fetch(retry);
      },
    };
  }
}

/** The problem+json body of a failed answer, as an ApiProblem with a human message for the statuses people meet. */
export async function problemOf(response: Response, parsed?: unknown): Promise<ApiProblem> {
  type Body = { detail?: string; title?: string; errors?: { field: string; message: string }[] };
  let body: Body = {};
  if (parsed && typeof parsed === 'object') body = parsed as Body;
  else if (!response.bodyUsed) {
    try {
      body = (await response.json()) as Body;
    } catch {
      // not JSON: the status says enough
    }
  }
  const fields = body.errors ?? [];
  if (response.status === 429) {
    const wait = response.headers.get('retry-after');
    return new ApiProblem(429, `Too many requests: the API asks to wait${wait ? ` ${wait} s` : ' a moment'} before trying again.`);
  }
  if (response.status === 503)
    return new ApiProblem(503, `The API is unavailable right now${body.detail ? ` (${body.detail})` : ''}. Try again in a moment.`);
  if (response.status === 401) return new ApiProblem(401, 'Your session has expired: please sign in again.');
  const named = fields.map((entry) => `${entry.field}: ${entry.message}`).join('; ');
  return new ApiProblem(response.status, named ? `Invalid ${named}` : (body.detail ?? body.title ?? `HTTP ${response.status}`), fields);
}

/** The data of an openapi-fetch result, or its problem thrown. */
export async function dataOf<T>(result: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  // openapi-fetch has read the body already: its `error` is the parsed problem+json.
  const { data, error, response } = await result;
  if (data === undefined || !response.ok) throw await problemOf(response, error);
  return data;
}

/** The words of a thrown problem, for an error line on the page. */
export function messageOf(problem: unknown): string {
  return problem instanceof Error ? problem.message : String(problem);
}

/** Resolves when an answer without a body to use (a 204) succeeded; throws its problem otherwise. */
export async function succeeded(result: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  const { error, response } = await result;
  if (!response.ok) throw await problemOf(response, error);
}
