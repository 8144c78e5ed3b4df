/** The REST API: Hono app (createApp) and server (startApi). Accounts and universe resolution are store/accounts/, shared with the gateway. */
export { createApp } from './app.js';
export { startApi, type ApiHandle, type StartApiOptions } from './server.js';
export { loadApiConfig, type ApiConfig } from './config.js';
export type { ApiDependencies, ProjectionLag } from './context.js';
