import { versionEtag } from './cache-key.js';
import type { CachedRead } from './cache.js';
import { digest } from '../platform/digest.js';
import { canonicalJson } from './scan.js';

/** ETag of a read: from the versions it was computed at, else from its content. */
export function etagOf(key: string, read: CachedRead<unknown>): string {
  return read.stamp !== undefined ? versionEtag(key, read.stamp) : contentEtag(read.value);
}

/** ETag of a value computed on every request: from its content. */
export function contentEtag(value: unknown): string {
  return `W/"${digest(canonicalJson(value))}"`;
}
