import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_API_TYPES, dashboardApiTypes } from '../build.js';

describe("the dashboard's generated API types", () => {
  // Loads the whole API and openapi-typescript: past the unit tests' 20 s on a loaded machine (seen: 22 s in a full run).
  it('match the OpenAPI document the API serves now (else: npm run build:dashboard)', { timeout: 120_000 }, async () => {
    expect(readFileSync(DASHBOARD_API_TYPES, 'utf8') === (await dashboardApiTypes()), 'run `npm run build:dashboard`').toBe(true);
  });
});
