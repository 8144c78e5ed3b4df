import { SignJWT, generateKeyPair, type JWTPayload } from 'jose';
import type { AuthConfig } from '../platform/index.js';

/** A token that must be refused, and why. */
export interface AttackToken {
  readonly attack: string;
  readonly token: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Access tokens an attacker could present for `userId`: unsigned (`alg: none` in several spellings),
 * algorithm confusion (HS384/HS512 with the real secret, RS256/ES256 with the attacker's key, an RS256
 * header on an HMAC signature), expired, not yet valid, signed with a guessed secret, tampered claims,
 * wrong issuer/audience, no subject, no expiry, a subject that is no user (or no UUID), and garbage.
 */
export async function attackTokens(config: AuthConfig, userId: string, validToken: string): Promise<AttackToken[]> {
  const secret = new TextEncoder().encode(config.JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = { sub: userId, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, iat: now, exp: now + 600 };
  const sign = (payload: JWTPayload, alg: string, key: Parameters<SignJWT['sign']>[0]) =>
    new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const [validHeader, , validSignature] = validToken.split('.');
  const tokens: AttackToken[] = [];
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    tokens.push({ attack: `alg ${alg}, no signature`, token: `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.` });
    tokens.push({ attack: `alg ${alg}, copied signature`, token: `${b64({ alg, typ: 'JWT' })}.${b64(claims)}.${validSignature}` });
  }
  tokens.push(
    { attack: 'alg confusion: HS384 with the real secret', token: await sign(claims, 'HS384', secret) },
    { attack: 'alg confusion: HS512 with the real secret', token: await sign(claims, 'HS512', secret) },
    { attack: 'alg confusion: RS256 with an attacker key', token: await sign(claims, 'RS256', rsa.privateKey) },
    { attack: 'alg confusion: ES256 with an attacker key', token: await sign(claims, 'ES256', ec.privateKey) },
    {
      attack: 'alg confusion: RS256 header on an HS256 signature',
      token: `${b64({ alg: 'RS256', typ: 'JWT' })}.${validToken.split('.')[1]}.${validSignature}`,
    },
    { attack: 'expired (exp an hour ago)', token: await sign({ ...claims, iat: now - 7200, exp: now - 3600 }, 'HS256', secret) },
    { attack: 'not yet valid (nbf in an hour)', token: await sign({ ...claims, nbf: now + 3600 }, 'HS256', secret) },
    { attack: 'forged: signed with a guessed secret', token: await sign(claims, 'HS256', new TextEncoder().encode('secret')) },
    { attack: 'forged: signed with an empty-looking secret', token: await sign(claims, 'HS256', new TextEncoder().encode(' ')) },
    {
      attack: 'tampered: other subject, original signature',
      token: `${validHeader}.${b64({ ...claims, sub: 'someone-else' })}.${validSignature}`,
    },
    {
      attack: 'tampered: longer expiry, original signature',
      token: `${validHeader}.${b64({ ...claims, exp: now + 10 * 365 * 86400 })}.${validSignature}`,
    },
    { attack: 'wrong issuer', token: await sign({ ...claims, iss: 'evil' }, 'HS256', secret) },
    { attack: 'wrong audience', token: await sign({ ...claims, aud: 'someone-else' }, 'HS256', secret) },
    { attack: 'no subject', token: await sign({ iss: claims.iss, aud: claims.aud, iat: now, exp: now + 600 }, 'HS256', secret) },
    // Signed with the real secret (a leaked secret, or a token minted by another service sharing it): still refused.
    { attack: 'no expiry, real secret', token: await sign({ sub: userId, iss: claims.iss, aud: claims.aud, iat: now }, 'HS256', secret) },
    { attack: 'subject not a user id, real secret', token: await sign({ ...claims, sub: 'not-a-uuid' }, 'HS256', secret) },
    { attack: 'subject is SQL, real secret', token: await sign({ ...claims, sub: "' OR '1'='1" }, 'HS256', secret) },
    {
      attack: 'subject of no user, real secret',
      token: await sign({ ...claims, sub: '00000000-0000-4000-8000-000000000000' }, 'HS256', secret),
    },
    { attack: 'signature stripped', token: `${validHeader}.${validToken.split('.')[1]}.` },
    { attack: 'garbage', token: 'not.a.jwt' },
    { attack: 'garbage: two segments', token: `${validHeader}.${validToken.split('.')[1]}` },
  );
  return tokens;
}
