/** The REST API: Hono app (createApp), server (startApi), built-in universes and universe resolution (used by the gateway). */
export { createApp } from './app.js';
export { startApi, type ApiHandle, type StartApiOptions } from './server.js';
export { loadApiConfig, type ApiConfig } from './config.js';
export type { ApiDependencies, ProjectionLag } from './context.js';
export {
  BUILTIN_UNIVERSES,
  findBuiltinUniverse,
  resolveUniverse,
  normaliseSymbols,
  UNIVERSE_KEY_PATTERN,
  SYMBOL_PATTERN,
  type Universe,
  type Queryable,
} from './universes.js';
