import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_API_TYPES, dashboardApiTypes } from '../build.js';

describe("the dashboard's generated API types", () => {
  it('match the OpenAPI document the API serves now (else: npm run build:dashboard)', async () => {
    expect(readFileSync(DASHBOARD_API_TYPES, 'utf8') === (await dashboardApiTypes()), 'run `npm run build:dashboard`').toBe(true);
  });
});
