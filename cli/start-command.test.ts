import { describe, expect, it } from 'vitest';
import { dailyBackfillRange, pipelineStages, planSimulatorStart, simulatorStart, stagePorts } from './start-command.js';

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
    const simulated = pipelineStages({
      massiveApiKey: undefined,
      simulatorSpeed: 60,
      simulatorRate: 5000,
      simulatorStartMs: 0,
      ports: stagePorts({}),
    });
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
    const live = pipelineStages({
      massiveApiKey: 'KEY',
      simulatorSpeed: 1,
      simulatorRate: 1,
      ports: stagePorts({ SIMULATOR_PORT: '18765', API_PORT: '13000' }),
    });
    expect(live.at(-1)!.metricsUrl).toBe('http://127.0.0.1:13000/metrics');
    expect(live.map((stage) => stage.name)).toEqual(['ingest', 'processors', 'projector', 'gateway', 'api']);
    expect(live[0]!.env).toEqual({});
  });

  it('resumes the simulated clock after the latest bar in the log, so a second run is not skipped whole', () => {
    const now = Date.parse('2026-11-30T15:00:00Z');
    // A fresh stack: the latest session (here now, during Monday's session).
    expect(planSimulatorStart({ nowMs: now, loggedUntilMs: undefined })).toMatchObject({ startMs: now, refused: false });
    // A log older than the latest session: that session, as on a fresh stack.
    expect(planSimulatorStart({ nowMs: now, loggedUntilMs: Date.parse('2026-11-27T16:00:00Z') }).startMs).toBe(now);
    // The first run got ahead of the wall clock (60x): continue two minutes after its latest bar, on a minute.
    const resumed = planSimulatorStart({ nowMs: now, loggedUntilMs: Date.parse('2026-12-02T18:31:20Z') });
    expect(resumed).toMatchObject({ startMs: Date.parse('2026-12-02T18:34:00Z'), refused: false });
    expect(resumed.note).toBe(
      "simulated clock: resumes at 2026-12-02 18:34 UTC, after the latest bar already in the log (2026-12-02 18:31 UTC); earlier runs' data stays as history",
    );
  });

  it('refuses an explicit SIMULATOR_START older than the log, with what to do instead', () => {
    const now = Date.parse('2026-11-30T15:00:00Z');
    const refused = planSimulatorStart({
      nowMs: now,
      loggedUntilMs: Date.parse('2026-12-02T18:31:00Z'),
      explicitStart: '2026-11-24T14:30:00Z',
    });
    expect(refused).toMatchObject({ refused: true, startMs: undefined });
    expect(refused.note).toContain(
      'SIMULATOR_START=2026-11-24T14:30:00Z is before the latest bar already in the log (2026-12-02 18:31 UTC)',
    );
    expect(refused.note).toContain('Unset SIMULATOR_START');
    expect(
      planSimulatorStart({ nowMs: now, loggedUntilMs: Date.parse('2026-11-20T18:31:00Z'), explicitStart: '2026-11-24T14:30:00Z' }),
    ).toMatchObject({ refused: false, startMs: Date.parse('2026-11-24T14:30:00Z') });
    expect(planSimulatorStart({ nowMs: now, loggedUntilMs: undefined, explicitStart: 'soon' })).toMatchObject({ refused: true });
  });

  it('backfills about 400 days of daily bars up to the day before the simulated start, after those already logged', () => {
    const start = Date.parse('2026-11-24T14:31:00Z');
    expect(dailyBackfillRange(start, undefined)).toEqual({ from: '2025-10-20', to: '2026-11-23' });
    // The first run logged daily bars up to Monday 23rd: a later run asks from the 24th only.
    expect(dailyBackfillRange(Date.parse('2026-11-25T14:31:00Z'), Date.parse('2026-11-23T05:00:00Z'))).toEqual({
      from: '2026-11-24',
      to: '2026-11-24',
    });
    // A start after Friday's close: the simulator's first live day is Monday, so Friday's session is history.
    expect(dailyBackfillRange(Date.parse('2026-11-27T21:00:00Z'), Date.parse('2026-11-25T05:00:00Z'))).toEqual({
      from: '2026-11-26',
      to: '2026-11-29',
    });
    // Nothing new: an empty range.
    const same = dailyBackfillRange(start, Date.parse('2026-11-23T05:00:00Z'));
    expect(same.from > same.to).toBe(true);
  });
});
