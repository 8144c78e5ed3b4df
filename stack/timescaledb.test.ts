import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPercent, clusterSettings, expectedSha256, extensionFiles, TimescaleCluster } from './timescaledb.js';

describe('the local TimescaleDB', () => {
  it('knows where make install puts the extension of a version', () => {
    expect(extensionFiles('/usr/lib/postgresql/15/lib', '/usr/share/postgresql/15', '2.28.3')).toEqual({
      library: '/usr/lib/postgresql/15/lib/timescaledb-2.28.3.so',
      script: '/usr/share/postgresql/15/extension/timescaledb--2.28.3.sql',
    });
  });

  it('reads the expected hash of the tarball from SHA256SUMS (text or binary mode lines)', () => {
    const hash = 'ec2f7de0ba53a473c01e0a57e09053898c6b1f7487228caff0f1d31c8cb2dedb';
    expect(expectedSha256(`${hash}  timescaledb-2.28.3.tar.gz\n`, 'timescaledb-2.28.3.tar.gz')).toBe(hash);
    expect(expectedSha256(`${'0'.repeat(64)} *other.tar.gz\n${hash} *timescaledb-2.28.3.tar.gz`, 'timescaledb-2.28.3.tar.gz')).toBe(hash);
    expect(expectedSha256(`${hash}  timescaledb-2.28.3.tar.gz`, 'timescaledb-2.28.2.tar.gz')).toBeUndefined();
  });

  it("follows CMake's progress", () => {
    expect(buildPercent('[  9%] Building C object src/x.c.o\n[ 12%] Building C object src/y.c.o\n')).toBe(12);
    expect(buildPercent('Scanning dependencies\n')).toBeUndefined();
  });

  it('preloads the library, turns telemetry off and listens on loopback only, on its own port', () => {
    const settings = clusterSettings(5433, '/state/data/timescaledb');
    expect(settings).toContain("shared_preload_libraries = 'timescaledb'");
    expect(settings).toContain("timescaledb.telemetry_level = 'off'");
    expect(settings).toContain('port = 5433');
    expect(settings).toContain("listen_addresses = '127.0.0.1'");
  });

  it('finds the vendored source beside the repo unless told otherwise, and refuses one that SHA256SUMS does not vouch for', async () => {
    expect(new TimescaleCluster('/state', {}).tarball).toMatch(/\/shared\/vendor\/timescaledb-2\.28\.3\.tar\.gz$/);
    const missing = new TimescaleCluster('/state', { STACK_TIMESCALE_SOURCE: '/nonexistent/timescaledb-2.28.3.tar.gz' });
    await expect(missing.verifySource()).rejects.toThrow(/TimescaleDB source not found at \/nonexistent/);
    const dir = mkdtempSync(join(tmpdir(), 'tickflow-vendor-'));
    try {
      const tarball = join(dir, 'timescaledb-2.28.3.tar.gz');
      writeFileSync(tarball, 'not the release');
      const cluster = new TimescaleCluster('/state', { STACK_TIMESCALE_SOURCE: tarball });
      await expect(cluster.verifySource()).rejects.toThrow(/no SHA256SUMS beside/);
      writeFileSync(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  timescaledb-2.28.3.tar.gz\n`);
      await expect(cluster.verifySource()).rejects.toThrow(/has sha256 [0-9a-f]{64}, SHA256SUMS says 0{64}: refusing to build it/);
      writeFileSync(
        join(dir, 'SHA256SUMS'),
        `${(await import('node:crypto')).createHash('sha256').update('not the release').digest('hex')}  timescaledb-2.28.3.tar.gz\n`,
      );
      await expect(cluster.verifySource()).resolves.toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
