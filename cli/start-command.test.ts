import { describe, expect, it } from 'vitest';
import { pipelineStages, simulatorStart, stagePorts } from './start-command.js';

describe('npm start', () => {
  it('starts the simulated clock in a regular session', () => {
    // Thanksgiving 2026 (a holiday, 01:00 UTC): the previous trading day's open, Wednesday 09:30 EST.
    expect(new Date(simulatorStart(Date.parse('2026-11-26T01:00:00Z'))).toISOString()).toBe('2026-11-25T14:30:00.000Z');
    // A Monday before the open: Friday's open.
    expect(new Date(simulatorStart(Date.parse('2026-11-30T13:00:00Z'))).toISOString()).toBe('2026-11-27T14:30:00.000Z');
    // During a session: now.
    expect(simulatorStart(Date.parse('2026-11-30T15:00:00Z'))).toBe(Date.parse('2026-11-30T15:00:00Z'));
    // After the close: that day's open.
    expect(new Date(simulatorStart(Date.parse('2026-11-30T22:00:00Z'))).toISOString()).toBe('2026-11-30T14:30:00.000Z');
  });

  it('runs the simulator and the live source pointed at it, or the real feed with a key', () => {
    const simulated = pipelineStages({ massiveApiKey: undefined, simulatorSpeed: 60, simulatorRate: 5000, simulatorStartMs: 0, ports: stagePorts({}) });
    expect(simulated.map((stage) => stage.name)).toEqual(['simulator', 'ingest', 'processors', 'projector', 'gateway', 'api']);
    expect(simulated[0]!.env).toMatchObject({ SIMULATOR_SPEED: '60', SIMULATOR_START: '1970-01-01T00:00:00.000Z' });
    expect(simulated.map((stage) => stage.metricsUrl)).toEqual([
      'http://127.0.0.1:8765/metrics',
      'http://127.0.0.1:9464/metrics',
      'http://127.0.0.1:9465/metrics',
      'http://127.0.0.1:9466/metrics',
      'http://127.0.0.1:3001/metrics',
      'http://127.0.0.1:3000/metrics',
    ]);
    expect(simulated[1]!.args).toEqual(['ingest', '--source', 'massive']);
    expect(simulated[1]!.env).toEqual({ MASSIVE_WS_URL: 'ws://127.0.0.1:8765', MASSIVE_API_KEY: 'simulator' });
    const live = pipelineStages({ massiveApiKey: 'KEY', simulatorSpeed: 1, simulatorRate: 1, ports: stagePorts({ SIMULATOR_PORT: '18765', API_PORT: '13000' }) });
    expect(live.at(-1)!.metricsUrl).toBe('http://127.0.0.1:13000/metrics');
    expect(live.map((stage) => stage.name)).toEqual(['ingest', 'processors', 'projector', 'gateway', 'api']);
    expect(live[0]!.env).toEqual({});
  });
});
