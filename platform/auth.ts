import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import { ConfigError, defineEnv, env, type EnvSource } from './config.js';
import { MIN_PRODUCTION_SECRET_LENGTH, isProduction } from './deployment.js';

/**
 * Token plumbing shared by the API (which issues tokens) and the gateway (which checks them).
 * Access tokens: HS256 JWTs with a fixed algorithm list, so `alg: none` and algorithm confusion fail.
 * API keys: `tfk_<id>_<secret>`; only the SHA-256 of the secret is stored (keys are 256-bit random, so a
 * fast hash suffices; passwords use a memory-hard KDF in the API).
 */
const DEVELOPMENT_JWT_SECRET = 'tickflow-dev-secret-change-me-0123456789';

const loadAuthEnv = defineEnv('auth', {
  JWT_SECRET: env.string(
    'HMAC secret for access tokens; in production it must be set, not the published default, and at least 32 characters',
    DEVELOPMENT_JWT_SECRET,
  ),
  JWT_ISSUER: env.string('`iss` of access tokens', 'tickflow'),
  JWT_AUDIENCE: env.string('`aud` of access tokens', 'tickflow-clients'),
  ACCESS_TOKEN_TTL_SECONDS: env.int('Lifetime of an access token', 900),
});

/**
 * The auth settings. In production (TICKFLOW_ENV / NODE_ENV) the published default or a short JWT_SECRET is refused:
 * anyone could sign tokens with the default (the issue 22 user forged one).
 */
export function loadAuthConfig(source: EnvSource = process.env): ReturnType<typeof loadAuthEnv> {
  const config = loadAuthEnv(source);
  if (isProduction(source)) {
    if (config.JWT_SECRET === DEVELOPMENT_JWT_SECRET)
      throw new ConfigError([
        'JWT_SECRET: the published development default is refused in production; set a random secret of 32+ characters',
      ]);
    if (config.JWT_SECRET.length < MIN_PRODUCTION_SECRET_LENGTH)
      throw new ConfigError([
        `JWT_SECRET: ${config.JWT_SECRET.length} characters is too short for production; at least ${MIN_PRODUCTION_SECRET_LENGTH}`,
      ]);
  }
  return config;
}

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export interface AccessClaims {
  readonly userId: string;
  readonly email?: string;
}

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: 'token_missing' | 'token_invalid' | 'token_expired' | 'api_key_invalid',
    message: string,
  ) {
    super(message);
  }
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Most verified access tokens a TokenService remembers (least recently used go first): a few MB at most. */
const VERIFIED_TOKENS_MAX = 10_000;

/** What a verified token allows, and the window (epoch seconds, as jose checks them) in which it stays valid. */
interface VerifiedToken {
  readonly claims: AccessClaims;
  /** `nbf`, or -Infinity without one: valid from this second on. */
  readonly notBefore: number;
  /** `exp`: valid while the current second is before it. */
  readonly expires: number;
}

export class TokenService {
  private readonly key: Uint8Array<ArrayBuffer>;
  /** The secret imported once for WebCrypto; jose would import a raw key again at every verification. */
  private verifyKey: Promise<CryptoKey> | undefined;
  /**
   * Tokens already verified, so a client's next requests skip the WebCrypto HMAC (about a tenth of a millisecond
   * of CPU each, a quarter of the API's CPU per cached scan). An access token cannot be revoked, so remembering
   * the verdict changes nothing: each use still checks `nbf` and `exp` against the clock, and only tokens that
   * passed every check are kept (a refused one is verified again each time).
   */
  private readonly verified: LRUCache<string, VerifiedToken>;

  constructor(
    private readonly config: AuthConfig,
    private readonly now: () => number = Date.now,
    verifiedTokensMax: number = VERIFIED_TOKENS_MAX,
  ) {
    this.key = new TextEncoder().encode(config.JWT_SECRET);
    this.verified = new LRUCache({ max: verifiedTokensMax });
  }

  static fromEnv(source: EnvSource = process.env): TokenService {
    return new TokenService(loadAuthConfig(source));
  }

  async issueAccessToken(claims: AccessClaims): Promise<{ token: string; expiresAt: number }> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = issuedAt + this.config.ACCESS_TOKEN_TTL_SECONDS;
    const token = await new SignJWT(claims.email ? { email: claims.email } : {})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.config.JWT_ISSUER)
      .setAudience(this.config.JWT_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(this.key);
    return { token, expiresAt: expiresAt * 1000 };
  }

  async verifyAccessToken(token: string | undefined): Promise<AccessClaims> {
    if (!token) throw new AuthError('token_missing', 'no access token');
    const nowSeconds = Math.floor(this.now() / 1000);
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (known.notBefore <= nowSeconds && nowSeconds < known.expires) return known.claims;
      // Out of its window (expired, or a clock set back before `nbf`): jose decides again, and names the reason.
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, await this.verificationKey(), {
        algorithms: ['HS256'],
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
        currentDate: new Date(this.now()),
        // A token without `exp` would never expire: refused even when signed with the secret.
        requiredClaims: ['exp'],
      });
      // User ids are UUIDs; any other subject is refused here rather than failing a query later (a 500).
      if (typeof payload.sub !== 'string' || !UUID_PATTERN.test(payload.sub))
        throw new AuthError('token_invalid', 'token has no valid subject');
      const claims: AccessClaims =
        typeof payload.email === 'string' ? { userId: payload.sub, email: payload.email } : { userId: payload.sub };
      this.verified.set(token, { claims, notBefore: payload.nbf ?? Number.NEGATIVE_INFINITY, expires: payload.exp! });
      return claims;
    } catch (error) {
      if (error instanceof AuthError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AuthError('token_expired', 'access token expired');
      throw new AuthError('token_invalid', 'access token invalid');
    }
  }

  private verificationKey(): Promise<CryptoKey> {
    this.verifyKey ??= crypto.subtle.importKey('raw', this.key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    return this.verifyKey;
  }
}

export interface ApiKeyParts {
  readonly id: string;
  readonly secret: string;
}

/** A new API key: show `key` to the user once; store `id` and `secretHash`. */
export function generateApiKey(): { key: string; id: string; secretHash: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `tfk_${id}_${secret}`, id, secretHash: hashApiKeySecret(secret) };
}

export function parseApiKey(key: string): ApiKeyParts | undefined {
  const match = /^tfk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(key);
  return match ? { id: match[1]!, secret: match[2]! } : undefined;
}

export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function apiKeySecretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKeySecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/**
 * What an API key may do: `read` the REST API's data and universes, `stream` from the gateway, `manage` API keys.
 * `manage` is granted only when asked for, so a leaked key cannot mint a successor that outlives its revocation.
 */
export const API_KEY_SCOPES = ['read', 'stream', 'manage'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = ['read', 'stream'];
