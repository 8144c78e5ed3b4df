import { hash } from 'node:crypto';

/**
 * A short sha256 digest of `text` in base64url (the first `length` characters; 22 carry 132 bits): cache keys,
 * ETags, prepared-statement names and topic epochs. Content-addressed and collision-resistant, unlike the
 * processors' `stableId` (a fast non-cryptographic id).
 */
export function digest(text: string, length = 22): string {
  // One-shot: this runs a few times per request, and createHash's object and stream setup cost more than the hash.
  return hash('sha256', text, 'base64url').slice(0, length);
}
