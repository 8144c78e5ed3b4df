import { describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT } from 'jose';
import { apiKeySecretMatches, AuthError, generateApiKey, hashApiKeySecret, loadAuthConfig, parseApiKey, TokenService } from './auth.js';

const config = loadAuthConfig({ JWT_SECRET: 'unit-test-secret-unit-test-secret-1234' });
const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = '00000000-0000-4000-8000-000000000002';

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
