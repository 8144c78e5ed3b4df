/**
 * Opaque tokens (cursors) as URL-safe text: UTF-8 text to base64url without padding, and back. Each owner keeps
 * its own token format and validation (the API's keyset cursors, the gateway's resume cursors); this is the one
 * encoding they share. Decoding is lenient, as Node's is: characters outside the alphabet are skipped, so the
 * caller validates what comes out.
 */
export function toBase64Url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function fromBase64Url(encoded: string): string {
  return Buffer.from(encoded, 'base64url').toString('utf8');
}
