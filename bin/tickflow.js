#!/usr/bin/env node
// The `tickflow` command. In a checkout it runs the TypeScript CLI through tsx (a dev dependency), so a fresh clone
// needs no build step; copied by the build beside the compiled CLI (dist/bin/), it runs that, with no tsx.
import { existsSync } from 'node:fs';

const compiled = new URL('../cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
