// The dependency rule between the top-level folders, enforced by `npm run lint` (import-x/no-restricted-paths).
// Each folder lists what it may import besides itself; anything else in the repository is forbidden. No exceptions list:
// a wrong-way import is fixed by moving the shared thing down a layer (contracts/ or store/), not by allowing it here.

/** Every top-level folder that holds code. */
const FOLDERS = [
  'platform',
  'contracts',
  'store',
  'ingest',
  'processors',
  'projections',
  'gateway',
  'api',
  'stack',
  'cli',
  'test',
  'bench',
  'chaos',
  'bin',
  'dashboard',
];

/** The pipeline's stages: each imports only the shared layers, never another stage. */
const STAGES = ['ingest', 'processors', 'projections', 'gateway', 'api'];

const SHARED = ['platform', 'contracts', 'store'];

/**
 * What each folder may import besides itself. `surface` entries may be imported only through a stage's public
 * surface (index.ts, cli.ts, config.ts, and the gateway's client SDK).
 * test/, bench/ and chaos/ are harnesses: they may import anything (they reach into stages to measure and break them).
 */
const ALLOWED = {
  platform: { plain: [] },
  contracts: { plain: ['platform'] },
  store: { plain: ['platform', 'contracts'] },
  ...Object.fromEntries(STAGES.map((stage) => [stage, { plain: SHARED }])),
  stack: { plain: SHARED },
  cli: { plain: [...SHARED, 'stack'], surface: STAGES, extra: { bench: ['./cli.ts'] } },
  test: { plain: FOLDERS.filter((folder) => folder !== 'test') },
  bench: { plain: FOLDERS.filter((folder) => folder !== 'bench' && folder !== 'chaos') },
  chaos: { plain: FOLDERS.filter((folder) => folder !== 'chaos') },
  bin: { plain: ['cli'] },
  // The browser UI: the gateway SDK (gateway/client/) and its own generated API types; nothing of the server.
  dashboard: { plain: [], extra: { gateway: ['./client'] } },
};

/** A stage's public surface, as `except` paths of a zone (relative to the stage folder). */
const PUBLIC_SURFACE = ['./index.ts', './cli.ts', './config.ts', './client'];

/**
 * import-x/no-restricted-paths zones. `tests`: the zones for tests and test helpers beside the code, which may
 * also import test/ (and nothing else more).
 */
export function boundaryZones({ tests }) {
  const zones = [];
  for (const [target, allowed] of Object.entries(ALLOWED)) {
    const plain = new Set([...allowed.plain, target, ...(tests ? ['test'] : [])]);
    for (const from of FOLDERS) {
      if (plain.has(from)) continue;
      const except = allowed.surface?.includes(from) ? PUBLIC_SURFACE : allowed.extra?.[from];
      const why =
        STAGES.includes(target) && STAGES.includes(from)
          ? 'stages do not import each other: move what they share to contracts/ or store/'
          : 'see the layer rule in docs/DEVELOPING.md';
      zones.push({
        target: `./${target}`,
        from: `./${from}`,
        ...(except ? { except } : {}),
        message: `${target}/ may not import ${from}/${except ? ` except its public surface (${except.join(', ')})` : ''}: ${why}.`,
      });
    }
  }
  return zones;
}
