import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Preact's JSX through esbuild's automatic runtime (no Babel plugin); served by the API under /app/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/app/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 400 },
  logLevel: 'warn',
});
