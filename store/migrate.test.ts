import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decideTimescale, MIGRATION_GROUPS, MIGRATIONS_DIR, TESTED_TIMESCALEDB_VERSION, type TimescaleProbe } from './migrate.js';

const none: TimescaleProbe = { available: null, installed: null, preloaded: false };
const notPreloaded: TimescaleProbe = { available: TESTED_TIMESCALEDB_VERSION, installed: null, preloaded: false };
const ready: TimescaleProbe = { available: TESTED_TIMESCALEDB_VERSION, installed: null, preloaded: true };

describe('decideTimescale', () => {
  it('takes the plain path when switched off, whatever the server offers', () => {
    expect(decideTimescale('off', ready)).toEqual({ timescale: false, warnings: [] });
  });

  it('takes the plain path silently in auto mode on a server without the extension, and refuses `on` there', () => {
    expect(decideTimescale('auto', none)).toEqual({ timescale: false, warnings: [] });
    expect(() => decideTimescale('on', none)).toThrow(
      'tickflow.timescale = on but the timescaledb extension is not available on this server',
    );
  });

  it('does not CREATE EXTENSION where the library is installed but not preloaded: auto warns and stays plain, on refuses', () => {
    const decision = decideTimescale('auto', notPreloaded);
    expect(decision.timescale).toBe(false);
    expect(decision.warnings).toEqual([
      expect.stringMatching(/installed on this server but not preloaded.*shared_preload_libraries = 'timescaledb'.*restart the server/),
    ]);
    expect(() => decideTimescale('on', notPreloaded)).toThrow(
      /installed and not preloaded on this server: add timescaledb to shared_preload_libraries/,
    );
  });

  it('takes the TimescaleDB path where the library is preloaded, or the extension already exists in the database', () => {
    expect(decideTimescale('auto', ready)).toEqual({ timescale: true, warnings: [] });
    expect(decideTimescale('on', ready)).toEqual({ timescale: true, warnings: [] });
    // Created earlier (a database migrated before): the setting is not visible to every role, the extension is.
    expect(
      decideTimescale('auto', { available: TESTED_TIMESCALEDB_VERSION, installed: TESTED_TIMESCALEDB_VERSION, preloaded: false }).timescale,
    ).toBe(true);
  });

  it('warns when the server runs another TimescaleDB version than the tested one', () => {
    expect(decideTimescale('auto', { ...ready, available: '2.17.2' }).warnings).toEqual([
      `timescaledb 2.17.2 on this server differs from the tested ${TESTED_TIMESCALEDB_VERSION}: the TimescaleDB path is tested only with ${TESTED_TIMESCALEDB_VERSION}`,
    ]);
    // The version created in the database decides, not the newest files installed.
    expect(decideTimescale('on', { available: '2.29.0', installed: '2.28.1', preloaded: true }).warnings[0]).toMatch(
      /^timescaledb 2\.28\.1 on this server differs/,
    );
  });
});

describe('migration files', () => {
  // A migration is recorded by its file name: a name released once never changes (databases migrated before would
  // run it again), whichever group folder holds it.
  const RELEASED = [
    '1795600000000_projections-core',
    '1795700000000_api-users',
    '1795800000000_projection-notices',
    '1795900000000_bars-range-functions',
    '1796000000000_pattern-scan-covering-indexes',
    '1796100000000_write-path-indexes',
    '1796200000000_pattern-scan-covering-sort-indexes',
    '1796300000000_drop-duplicate-sort-indexes',
    '1796400000000_projection-notice-scopes',
    '1796500000000_pattern-scan-count-indexes',
    '1796600000000_pattern-sort-scan-indexes',
    '1796700000000_pattern-active-counts',
    '1796850000000_api-key-scopes',
  ];

  it('keeps every released name, in order, each in one group folder, and every folder is a group', () => {
    const byGroup = MIGRATION_GROUPS.flatMap((group) =>
      readdirSync(join(MIGRATIONS_DIR, group)).map((file) => ({ group, name: file.replace(/\.sql$/, '') })),
    );
    const names = byGroup.map((entry) => entry.name).sort();
    expect(names.slice(0, RELEASED.length)).toEqual(RELEASED);
    expect(new Set(names).size).toBe(names.length);
    expect(readdirSync(MIGRATIONS_DIR).sort()).toEqual([...MIGRATION_GROUPS].sort());
  });
});
