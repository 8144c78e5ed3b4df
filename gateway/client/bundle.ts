import type { BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';

/**
 * The SDK's bundles, one definition for both places that make them: the build (build.ts, at build time) writes them
 * to gateway/client/dist/, and a gateway run from source (tsx, vitest) bundles the browser one in memory, so that
 * /sdk.js always matches the source. A compiled gateway only reads the built file: esbuild is a build tool, not a
 * runtime dependency.
 */
export const SDK_DIST_DIR = 'dist';

/** The bundles in SDK_DIST_DIR: for Node and bundlers (readable, with a source map), and minified for browsers (/sdk.js). */
export const SDK_BUNDLES = { module: 'index.js', browser: 'tickflow-client.min.js' } as const;

const entry = fileURLToPath(new URL('./index.ts', import.meta.url));

/** esbuild options of one bundle: one self-contained ES module (platform/backoff.ts inlined), no Node API. */
export function sdkBundleOptions(kind: keyof typeof SDK_BUNDLES): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: kind === 'browser' ? 'browser' : 'neutral',
    target: 'es2022',
    minify: kind === 'browser',
    sourcemap: kind === 'module',
    legalComments: 'none',
  };
}

/** The browser bundle in memory (a gateway run from source); esbuild is loaded only here. */
export async function bundleSdkForBrowser(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...sdkBundleOptions('browser'), write: false });
  return result.outputFiles[0]!.text;
}
