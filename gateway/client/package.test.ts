import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ASYNCAPI_PATH } from '../contract.js';
import { SDK_BUNDLES, SDK_DIST_DIR } from './bundle.js';

const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
  type: string;
  types: string;
  files: string[];
  exports: Record<string, Record<string, string> | string>;
};

describe('the SDK package (gateway/client/package.json)', () => {
  it('is versioned with the protocol it speaks', () => {
    const protocol = parse(readFileSync(ASYNCAPI_PATH, 'utf8')) as { info: { version: string } };
    expect(manifest.version).toBe(protocol.info.version);
  });

  it('exports the bundles and declarations the build writes, for Node and browsers', () => {
    const dist = (file: string) => `./${SDK_DIST_DIR}/${file}`;
    expect(manifest.type).toBe('module');
    expect(manifest.files).toEqual([SDK_DIST_DIR]);
    expect(manifest.types).toBe(dist('index.d.ts'));
    expect(manifest.exports['.']).toEqual({
      types: dist('index.d.ts'),
      browser: dist(SDK_BUNDLES.browser),
      default: dist(SDK_BUNDLES.module),
    });
    expect(manifest.exports['./browser']).toEqual({ types: dist('index.d.ts'), default: dist(SDK_BUNDLES.browser) });
  });
});
