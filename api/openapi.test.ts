import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import pg from 'pg';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../contracts/redis-keys.js';
import { createLogger, createMetricsRegistry, loadAuthConfig, TokenService } from '../platform/index.js';
import { createApp } from './app.js';
import { loadApiConfig } from './config.js';

interface Operation {
  operationId?: string;
  parameters?: { in: string; name: string; schema?: { enum?: string[]; description?: string } }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface Document {
  info: { version: string };
  components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
}

// The document needs no server: the pool never connects (no route runs a query here).
const pool = new pg.Pool({ connectionString: 'postgres://tickflow@127.0.0.1:1/unused' });
let document: Document;

beforeAll(async () => {
  const app = createApp({
    db: pool,
    tokens: new TokenService(loadAuthConfig({})),
    config: loadApiConfig({}),
    logger: createLogger('api-test', { level: 'silent' }),
    registry: createMetricsRegistry('api', { collectDefaults: false }),
    readModelKeys: redisKeys('openapi-test:'),
  });
  document = (await (await app.request('/openapi.json')).json()) as Document;
});

afterAll(() => pool.end());

const operations = () =>
  Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

describe('the OpenAPI document', () => {
  it('names every operation (client generators use operationId), lists servers, and carries the package version', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(
      ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)),
      JSON.stringify(ids),
    ).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(document.servers?.length).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(document.info.version).toBe(manifest.version);
  });

  it('declares every status an /api/ route can answer, errors with the problem schema', () => {
    for (const { path, method, operation } of operations().filter((entry) => entry.path.startsWith('/api/'))) {
      const where = `${method.toUpperCase()} ${path}`;
      // The middleware's: validation, credentials, scopes, rate limits, unexpected errors, database timeouts.
      const expected = ['400', '401', '403', '429', '500', '503'];
      if (method === 'get') expect(operation.responses, where).toHaveProperty('304'); // weak ETags on every GET
      if (operation.requestBody) expected.push('413', '415'); // body limit and content type
      // A resource named in the path may not exist; PUT creates it instead.
      if (method !== 'put' && operation.parameters?.some((parameter) => parameter.in === 'path')) expected.push('404');
      for (const status of expected) {
        expect(operation.responses[status]?.content?.['application/problem+json']?.schema?.$ref, `${where} ${status}`).toBe(
          '#/components/schemas/Problem',
        );
      }
    }
  });

  it('documents the counts: its filters as the scan names them, a closed set of bucket widths, and the PatternCounts body', () => {
    const counts = document.paths['/api/patterns/counts']?.get;
    expect(counts?.operationId).toBe('getPatternCounts');
    const parameters = new Map((counts?.parameters ?? []).map((parameter) => [parameter.name, parameter]));
    expect([...parameters.keys()].sort()).toEqual(
      ['bucket', 'hours', 'pattern_types', 'since', 'symbols', 'timeframe', 'top', 'universe', 'until'].sort(),
    );
    expect(parameters.get('bucket')?.schema?.enum).toEqual(['5m', '15m', '1h', '1d']);
    const scan = document.paths['/api/patterns/scan']?.get?.parameters ?? [];
    for (const shared of ['pattern_types', 'symbols', 'universe', 'timeframe']) {
      expect(parameters.get(shared)?.schema, shared).toEqual(scan.find((parameter) => parameter.name === shared)?.schema);
    }
    expect(counts?.responses['200']?.content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/PatternCounts');
  });

  it("documents the scan's direction filter and both bounds of relative strength and relative volume, described alike", () => {
    const scan = new Map((document.paths['/api/patterns/scan']?.get?.parameters ?? []).map((parameter) => [parameter.name, parameter]));
    for (const name of ['direction', 'rs_min', 'rs_max', 'vol_min', 'vol_max']) expect(scan.get(name)?.in, name).toBe('query');
    const { description: _rsMin, ...rsMin } = scan.get('rs_min')?.schema ?? {};
    const { description: _rsMax, ...rsMax } = scan.get('rs_max')?.schema ?? {};
    expect(rsMax).toEqual(rsMin);
    expect(JSON.stringify(scan.get('direction')?.schema)).toMatch(/bullish, bearish or neutral/);
  });

  it('documents per-bucket counts by direction, pattern type and tier in PatternCounts', () => {
    const counts = document.components.schemas.PatternCounts;
    for (const name of ['buckets_by_direction', 'buckets_by_pattern', 'buckets_by_tier']) {
      expect(counts?.required, name).toContain(name);
      expect(JSON.stringify(counts?.properties?.[name]), name).toMatch(/"required":\["bucket","key","count"\]/);
    }
  });

  it('generates a typed client (openapi-typescript) that a call compiles against, and a wrong call does not', async () => {
    const generated = astToString(await openapiTS(document as unknown as Parameters<typeof openapiTS>[0]));
    const directory = mkdtempSync(join(tmpdir(), 'tickflow-openapi-'));
    try {
      writeFileSync(join(directory, 'tickflow-api.ts'), generated);
      const compile = (call: string) => {
        writeFileSync(join(directory, 'call.ts'), call);
        const program = ts.createProgram([join(directory, 'call.ts')], {
          strict: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          moduleResolution: ts.ModuleResolutionKind.Bundler,
          lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
          types: [],
          skipLibCheck: true,
        });
        return ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      };
      const call = (query: string) => `
        import type { operations } from './tickflow-api.js';
        type Scan = operations['scanPatterns'];
        type Query = NonNullable<Scan['parameters']['query']>;
        type Page = Scan['responses'][200]['content']['application/json'];
        type Problem = Scan['responses'][429]['content']['application/problem+json'];
        export async function scanPatterns(baseUrl: string, apiKey: string, query: Query): Promise<Page> {
          const url = new URL('/api/patterns/scan', baseUrl);
          for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
          const response = await fetch(url, { headers: { 'x-api-key': apiKey } });
          if (!response.ok) throw new Error(((await response.json()) as Problem).title);
          return (await response.json()) as Page;
        }
        export const symbols = scanPatterns('http://127.0.0.1:3000', 'tfk_example', ${query}).then((page) =>
          page.data.map((row) => row.symbol.toUpperCase()),
        );
      `;
      expect(compile(call(`{ status: 'active', per_page: '10' }`))).toEqual([]);
      expect(compile(call(`{ direction: 'bearish', rs_max: '1.5', vol_max: '3' }`))).toEqual([]);
      expect(compile(call(`{ status: 'open', per_page: '10' }`)).join('\n')).toMatch(/'"open"' is not assignable/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
