import { createRequire } from 'node:module';

/**
 * Tickflow's version, from package.json: the root one when run from source, the copy the build writes beside the
 * compiled code (dist/package.json) when run from dist/. The OpenAPI document's `info.version` is this.
 */
export const TICKFLOW_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
