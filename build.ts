/**
 * `npm run build`: a dist/ that runs with `node dist/bin/tickflow.js` and the production dependencies only (no tsx,
 * no esbuild at run time). Three steps:
 * 1. the gateway SDK package (gateway/client/dist/): its bundles (esbuild) and its type declarations (tsc);
 * 2. the TypeScript compiled to dist/ (tsconfig.build.json);
 * 3. what the compiled code reads beside it: migrations, Avro schemas, the live page, the SDK package, the API
 *    reference UI's script (from a dev dependency), the `tickflow` launcher and a package.json (version, ES modules).
 * `tsx build.ts --out <dir>` builds elsewhere (test/dist.build.test.ts builds into a temporary directory);
 * `--sdk-only` (`npm run build:sdk`) does step 1 only.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';
import { DOCS_SCRIPT_BUILT, docsScriptSource } from './api/routes-docs.js';
import { SDK_BUNDLES, SDK_DIST_DIR, sdkBundleOptions } from './gateway/client/bundle.js';

const root = dirname(fileURLToPath(import.meta.url));
const sdkDir = join(root, 'gateway', 'client');

/** Files the compiled code reads at run time, relative to the repository (and to dist/). */
const RUNTIME_ASSETS = ['store/migrations', 'schemas', 'gateway/public', 'gateway/client/package.json', `gateway/client/${SDK_DIST_DIR}`];

/** The SDK's bundles and declarations into gateway/client/dist/ (what `npm install ./gateway/client` gets). */
async function buildSdk(): Promise<void> {
  const out = join(sdkDir, SDK_DIST_DIR);
  rmSync(out, { recursive: true, force: true });
  for (const [kind, file] of Object.entries(SDK_BUNDLES) as [keyof typeof SDK_BUNDLES, string][]) {
    await build({ ...sdkBundleOptions(kind), outfile: join(out, file) });
  }
  // Declarations of the SDK's own files only; what it inlines from platform/ is not part of its types.
  const scratch = mkdtempSync(join(tmpdir(), 'tickflow-sdk-types-'));
  try {
    const program = ts.createProgram([join(sdkDir, 'index.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: [],
      strict: true,
      skipLibCheck: true,
      declaration: true,
      emitDeclarationOnly: true,
      rootDir: root,
      outDir: scratch,
    });
    const emitted = program.emit();
    const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
    if (errors.length > 0) throw new Error(ts.formatDiagnostics(errors, formatHost));
    const declarations = join(scratch, relative(root, sdkDir));
    for (const file of readdirSync(declarations).filter((name) => name.endsWith('.d.ts') && name !== 'bundle.d.ts')) {
      cpSync(join(declarations, file), join(out, file));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (name) => name,
  getCurrentDirectory: () => root,
  getNewLine: () => '\n',
};

/** Compiles the code to `out` and copies beside it what it reads at run time. */
async function buildDist(out: string): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  await buildSdk();
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (compiled.status !== 0) throw new Error(`tsc failed (exit ${compiled.status ?? compiled.signal})`);
  for (const asset of RUNTIME_ASSETS) cpSync(join(root, asset), join(out, asset), { recursive: true });
  cpSync(docsScriptSource(), join(out, 'api', DOCS_SCRIPT_BUILT));
  mkdirSync(join(out, 'bin'), { recursive: true });
  cpSync(join(root, 'bin', 'tickflow.js'), join(out, 'bin', 'tickflow.js'));
  // platform/version.ts reads ../package.json; "type": "module" makes the compiled .js files ES modules wherever dist/ goes.
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const { name, version, description, license, type, engines } = manifest;
  writeFileSync(
    join(out, 'package.json'),
    `${JSON.stringify({ name, version, description, license, private: true, type, engines, bin: { tickflow: 'bin/tickflow.js' } }, null, 2)}\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--sdk-only')) {
    await buildSdk();
    console.log(
      `built the SDK package in ${join(sdkDir, SDK_DIST_DIR)}: \`npm install ${relative(process.cwd(), sdkDir) || '.'}\` in your project`,
    );
  } else {
    const at = process.argv.indexOf('--out');
    const out = resolve(at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : join(root, 'dist'));
    await buildDist(out);
    console.log(`built ${out}: \`node ${join(out, 'bin', 'tickflow.js')} --help\``);
  }
}
