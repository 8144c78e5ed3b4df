// Lint is syntactic (no type-aware rules) so it stays fast on two cores; `npm run typecheck` covers types.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import eslintConfigPrettier from 'eslint-config-prettier/flat';
import { boundaryZones } from './eslint.boundaries.js';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'coverage/', '.stack/', 'gateway/client/dist/', 'dashboard/dist/', 'dashboard/src/api-types.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        WebSocket: 'readonly',
        window: 'readonly',
        document: 'readonly',
        localStorage: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The layer rule (docs/DEVELOPING.md, "Layers"): which folder may import which, and no import cycles.
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.mjs'],
    plugins: { 'import-x': importX },
    settings: {
      // The plugin's TypeScript settings (extensions, parser for .ts dependencies), with the resolver that maps `.js` specifiers to `.ts` (NodeNext).
      ...Object.fromEntries(Object.entries(importX.flatConfigs.typescript.settings).filter(([key]) => key !== 'import-x/resolver')),
      'import-x/resolver-next': [
        createTypeScriptImportResolver({ project: ['./tsconfig.json', './dashboard/tsconfig.json'], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones({ tests: false }) }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Tests and test helpers beside the code follow their folder's rule and may also import test/.
    files: ['**/*.test.ts', '**/testing.ts', '**/testing/**'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: boundaryZones({ tests: true }) }] },
  },
  {
    // The dashboard runs in browsers.
    files: ['dashboard/src/**'],
    languageOptions: {
      globals: Object.fromEntries(
        ['location', 'history', 'sessionStorage', 'matchMedia', 'addEventListener', 'removeEventListener', 'dispatchEvent']
          .concat(['PopStateEvent', 'FormData', 'Request', 'Response', 'URLSearchParams', 'HTMLElement', 'HTMLFormElement'])
          .concat(['HTMLSelectElement', 'HTMLMetaElement', 'HTMLDivElement', 'MouseEvent', 'SubmitEvent', 'Event'])
          .map((name) => [name, 'readonly']),
      ),
    },
  },
  // Layout is Prettier's (`npm run format`): last, so it turns off any rule that would fight the formatter.
  eslintConfigPrettier,
);
