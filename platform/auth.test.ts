import { beforeEach, describe, expect, it, vi } from 'vitest';
import { jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { apiKeySecretMatches, AuthError, generateApiKey, hashApiKeySecret, loadAuthConfig, parseApiKey, TokenService } from './auth.js';

const config = loadAuthConfig({ JWT_SECRET: 'unit-test-secret-unit-test-secret-1234' });
const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = '00000000-0000-4000-8000-000000000002';

// jose as it is, its signature checks counted: a remembered token must not reach it again.
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: vi.fn(jose.jwtVerify) };
});
const signatureChecks = () => vi.mocked(jwtVerify).mock.calls.length;

describe('TokenService', () => {
  it('issues tokens that verify, carrying the user', async () => {
    const tokens = new TokenService(config);
    const { token, expiresAt } = await tokens.issueAccessToken({ userId: U1, email: 'a@example.com' });
    expect(expiresAt).toBeGreaterThan(Date.now());
    expect(await tokens.verifyAccessToken(token)).toEqual({ userId: U1, email: 'a@example.com' });
  });

  it('rejects missing, expired, forged, alg:none and wrong-audience tokens', async () => {
    let now = Date.now();
    const tokens = new TokenService(config, () => now);
    const { token } = await tokens.issueAccessToken({ userId: U1 });
    await expect(tokens.verifyAccessToken(undefined)).rejects.toMatchObject({ code: 'token_missing' });

    now += (config.ACCESS_TOKEN_TTL_SECONDS + 5) * 1000;
    await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_expired' });
    now = Date.now();

    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(U1)
      .setIssuer(config.JWT_ISSUER)
      .setAudience(config.JWT_AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('another-secret-another-secret-000000'));
    await expect(tokens.verifyAccessToken(forged)).rejects.toMatchObject({ code: 'token_invalid' });

    const unsigned = new UnsecuredJWT({})
      .setSubject(U1)
      .setIssuer(config.JWT_ISSUER)
      .setAudience(config.JWT_AUDIENCE)
      .setExpirationTime('5m')
      .encode();
    await expect(tokens.verifyAccessToken(unsigned)).rejects.toBeInstanceOf(AuthError);

    const otherAudience = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(U1)
      .setIssuer(config.JWT_ISSUER)
      .setAudience('someone-else')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(config.JWT_SECRET));
    await expect(tokens.verifyAccessToken(otherAudience)).rejects.toMatchObject({ code: 'token_invalid' });

    const noSubject = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(config.JWT_ISSUER)
      .setAudience(config.JWT_AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(config.JWT_SECRET));
    await expect(tokens.verifyAccessToken(noSubject)).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('refuses a signed token without exp, and a subject that is not a user id (UUID)', async () => {
    const tokens = new TokenService(config);
    const key = new TextEncoder().encode(config.JWT_SECRET);
    const signed = (subject: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(subject)
        .setIssuer(config.JWT_ISSUER)
        .setAudience(config.JWT_AUDIENCE);
    await expect(tokens.verifyAccessToken(await signed(U1).sign(key))).rejects.toMatchObject({ code: 'token_invalid' });
    for (const subject of ['not-a-uuid', "1' OR '1'='1", `${U1}x`, ' ']) {
      await expect(tokens.verifyAccessToken(await signed(subject).setExpirationTime('5m').sign(key)), subject).rejects.toMatchObject({
        code: 'token_invalid',
      });
    }
    expect((await tokens.verifyAccessToken(await signed(U1).setExpirationTime('5m').sign(key))).userId).toBe(U1);
  });

  describe('remembering verified tokens', () => {
    beforeEach(() => {
      vi.mocked(jwtVerify).mockClear();
    });
    const signedToken = (claims: { nbf?: number; exp: number }) => {
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(U1)
        .setIssuer(config.JWT_ISSUER)
        .setAudience(config.JWT_AUDIENCE)
        .setExpirationTime(claims.exp);
      return (claims.nbf === undefined ? jwt : jwt.setNotBefore(claims.nbf)).sign(new TextEncoder().encode(config.JWT_SECRET));
    };

    it('checks a token once, then answers from memory until its exp, and refuses it as expired after', async () => {
      let now = Date.now();
      const tokens = new TokenService(config, () => now);
      const { token, expiresAt } = await tokens.issueAccessToken({ userId: U1, email: 'a@example.com' });
      for (let i = 0; i < 3; i += 1) expect(await tokens.verifyAccessToken(token)).toEqual({ userId: U1, email: 'a@example.com' });
      expect(signatureChecks()).toBe(1);

      now = expiresAt - 1000; // the last second before exp
      expect((await tokens.verifyAccessToken(token)).userId).toBe(U1);
      expect(signatureChecks()).toBe(1);
      now = expiresAt; // exp itself is too late, as jose has it
      await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_expired' });
      await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_expired' });
      expect(signatureChecks()).toBe(3);
    });

    it('honours nbf for a remembered token when the clock goes back before it', async () => {
      let now = Date.now();
      const seconds = () => Math.floor(now / 1000);
      const tokens = new TokenService(config, () => now);
      const token = await signedToken({ nbf: seconds() + 60, exp: seconds() + 600 });
      await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_invalid' });
      now += 61_000;
      expect((await tokens.verifyAccessToken(token)).userId).toBe(U1);
      expect((await tokens.verifyAccessToken(token)).userId).toBe(U1);
      expect(signatureChecks()).toBe(2);
      now -= 61_000;
      await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'token_invalid' });
      expect(signatureChecks()).toBe(3);
    });

    it('does not remember a refused token', async () => {
      const tokens = new TokenService(config);
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(U1)
        .setIssuer(config.JWT_ISSUER)
        .setAudience(config.JWT_AUDIENCE)
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret-another-secret-000000'));
      for (let i = 0; i < 2; i += 1) await expect(tokens.verifyAccessToken(forged)).rejects.toMatchObject({ code: 'token_invalid' });
      expect(signatureChecks()).toBe(2);
    });

    it('remembers at most its cap of tokens, forgetting the least recently used first', async () => {
      const tokens = new TokenService(config, Date.now, 2);
      const issued = await Promise.all([U1, U2, U1].map(async (userId) => (await tokens.issueAccessToken({ userId })).token));
      const [first, second, third] = issued as [string, string, string];
      await tokens.verifyAccessToken(first);
      await tokens.verifyAccessToken(second);
      await tokens.verifyAccessToken(first); // first is now the most recently used
      expect(signatureChecks()).toBe(2);
      await tokens.verifyAccessToken(third); // over the cap: second goes
      await tokens.verifyAccessToken(first);
      expect(signatureChecks()).toBe(3);
      expect((await tokens.verifyAccessToken(second)).userId).toBe(U2);
      expect(signatureChecks()).toBe(4);
    });
  });

  it('loads from the environment', async () => {
    const tokens = TokenService.fromEnv({ JWT_SECRET: config.JWT_SECRET });
    const { token } = await tokens.issueAccessToken({ userId: U2 });
    expect((await new TokenService(config).verifyAccessToken(token)).userId).toBe(U2);
  });
});

describe('API keys', () => {
  it('generates keys that parse and match their stored hash only', () => {
    const { key, id, secretHash } = generateApiKey();
    const parts = parseApiKey(key);
    expect(parts?.id).toBe(id);
    expect(apiKeySecretMatches(parts!.secret, secretHash)).toBe(true);
    expect(apiKeySecretMatches(generateApiKey().key.slice(-43), secretHash)).toBe(false);
    expect(apiKeySecretMatches(parts!.secret, 'abcd')).toBe(false);
    expect(secretHash).toBe(hashApiKeySecret(parts!.secret));
    expect(key).not.toContain(secretHash);
  });

  it('rejects keys of the wrong shape', () => {
    expect(parseApiKey('tfk_short_x')).toBeUndefined();
    expect(parseApiKey('Bearer abc')).toBeUndefined();
  });
});
