import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  initialState,
  nextRandom,
  transition,
  type ProtocolCommand,
  type ProtocolConfig,
  type ProtocolEvent,
  type ProtocolState,
} from './protocol.js';

const config: ProtocolConfig = {
  url: 'ws://127.0.0.1:1/stocks',
  apiKey: 'KEY',
  subscriptions: ['T.*', 'AM.*'],
  backoffBaseMs: 100,
  backoffMaxMs: 1600,
  handshakeTimeoutMs: 1000,
  idlePingMs: 500,
  pongTimeoutMs: 300,
};

function run(events: ProtocolEvent[], state: ProtocolState = initialState(1)): { state: ProtocolState; commands: ProtocolCommand[] } {
  const commands: ProtocolCommand[] = [];
  for (const event of events) {
    const next = transition(config, state, event);
    state = next.state;
    commands.push(...next.commands);
  }
  return { state, commands };
}

const actions = (commands: ProtocolCommand[]) => commands.filter((command) => command.type !== 'log');
const status = (name: string, message: string, nowMs: number): ProtocolEvent => ({ type: 'status', status: name, message, nowMs });
const handshake: ProtocolEvent[] = [
  { type: 'start', nowMs: 0 },
  { type: 'opened', nowMs: 1 },
  status('connected', 'Connected Successfully', 2),
  status('auth_success', 'authenticated', 3),
  status('success', 'subscribed to: T.*', 4),
];

describe('protocol state machine', () => {
  it('connects, authenticates with the key, subscribes, and streams', () => {
    const { state, commands } = run(handshake);
    expect(state.phase).toBe('streaming');
    expect(actions(commands)).toEqual([
      { type: 'open', url: config.url },
      { type: 'send', message: { action: 'auth', params: 'KEY' } },
      { type: 'send', message: { action: 'subscribe', params: 'T.*,AM.*' } },
    ]);
    expect(commands.filter((command) => command.type === 'log').length).toBeGreaterThanOrEqual(4);
  });

  it('auth failure: logs an error, closes, backs off and tries again (never gives up)', () => {
    const { state, commands } = run([
      { type: 'start', nowMs: 0 },
      status('connected', '', 1),
      status('auth_failed', 'authentication failed', 2),
    ]);
    expect(state.phase).toBe('backoff');
    expect(commands).toContainEqual(expect.objectContaining({ type: 'log', level: 'error', message: 'authentication failed' }));
    const retry = actions(commands).slice(-2);
    expect(retry[0]).toEqual({ type: 'close', reason: 'auth_failed: authentication failed' });
    expect(retry[1]).toMatchObject({ type: 'scheduleRetry' });
    const again = run([{ type: 'retry', nowMs: 500 }], state);
    expect(again.state.phase).toBe('connecting');
    expect(actions(again.commands)).toEqual([{ type: 'open', url: config.url }]);
    expect(again.state.reconnects).toBe(1);
  });

  it('server closing mid-stream: reconnects, re-authenticates and resubscribes; attempt resets once streaming', () => {
    const streaming = run(handshake).state;
    const dropped = run([{ type: 'closed', code: 1006, reason: '', nowMs: 10 }], streaming);
    expect(dropped.state.phase).toBe('backoff');
    expect(dropped.state.attempt).toBe(1);
    expect(actions(dropped.commands)).toEqual([{ type: 'scheduleRetry', delayMs: expect.any(Number) }]);
    const back = run(
      [
        { type: 'retry', nowMs: 200 },
        { type: 'opened', nowMs: 201 },
        status('connected', '', 202),
        status('auth_success', '', 203),
        status('success', 'subscribed to: T.*', 204),
      ],
      dropped.state,
    );
    expect(back.state.phase).toBe('streaming');
    expect(back.state.attempt).toBe(0);
    expect(back.state.reconnects).toBe(1);
    expect(actions(back.commands).filter((command) => command.type === 'send')).toEqual([
      { type: 'send', message: { action: 'auth', params: 'KEY' } },
      { type: 'send', message: { action: 'subscribe', params: 'T.*,AM.*' } },
    ]);
  });

  it('a slow server (no connected status) times the handshake out and reconnects', () => {
    const { state, commands } = run([
      { type: 'start', nowMs: 0 },
      { type: 'opened', nowMs: 5 },
      { type: 'tick', nowMs: 900 },
      { type: 'tick', nowMs: 1001 },
    ]);
    expect(state.phase).toBe('backoff');
    expect(actions(commands).at(-2)).toEqual({ type: 'close', reason: 'handshake timeout in connecting after 1001 ms' });
  });

  it('a dead connection: pings after silence, declares it dead when no pong comes', () => {
    const streaming = run(handshake).state;
    const idle = run(
      [
        { type: 'tick', nowMs: 400 },
        { type: 'tick', nowMs: 505 },
      ],
      streaming,
    );
    expect(actions(idle.commands)).toEqual([{ type: 'ping' }]);
    const answered = run(
      [
        { type: 'pong', nowMs: 520 },
        { type: 'tick', nowMs: 900 },
      ],
      idle.state,
    );
    expect(answered.state.phase).toBe('streaming');
    expect(answered.state.pingSentMs).toBeUndefined();
    const dead = run(
      [
        { type: 'tick', nowMs: 1100 },
        { type: 'tick', nowMs: 1200 },
        { type: 'tick', nowMs: 1500 },
      ],
      answered.state,
    );
    expect(dead.state.phase).toBe('backoff');
    expect(actions(dead.commands)[0]).toEqual({ type: 'ping' });
    expect(actions(dead.commands)[1]).toMatchObject({ type: 'close', reason: expect.stringMatching(/^dead connection/) });
  });

  it('data counts as activity and answers an outstanding ping', () => {
    const streaming = run(handshake).state;
    const pinged = run([{ type: 'tick', nowMs: 600 }], streaming).state;
    const fed = run(
      [
        { type: 'data', nowMs: 700 },
        { type: 'tick', nowMs: 950 },
      ],
      pinged,
    );
    expect(fed.state.phase).toBe('streaming');
    expect(actions(fed.commands)).toEqual([]);
  });

  it('socket errors close and back off; errors while backing off are only logged', () => {
    const { state, commands } = run([...handshake, { type: 'error', message: 'ECONNRESET', nowMs: 9 }]);
    expect(state.phase).toBe('backoff');
    expect(actions(commands).at(-2)).toEqual({ type: 'close', reason: 'socket error: ECONNRESET' });
    const ignored = run(
      [
        { type: 'error', message: 'late', nowMs: 10 },
        { type: 'closed', code: 1006, reason: '', nowMs: 11 },
        { type: 'tick', nowMs: 5000 },
      ],
      state,
    );
    expect(ignored.state.phase).toBe('backoff');
    expect(actions(ignored.commands)).toEqual([]);
  });

  it('max_connections (kicked by a second connection) reconnects; other statuses are logged', () => {
    const streaming = run(handshake).state;
    expect(run([status('max_connections', 'Maximum number of websocket connections exceeded.', 10)], streaming).state.phase).toBe(
      'backoff',
    );
    const info = run([status('success', 'subscribed to: AM.*', 10), status('error', 'not authorized', 11)], streaming);
    expect(info.state.phase).toBe('streaming');
    expect(info.commands).toContainEqual(expect.objectContaining({ type: 'log', level: 'warn' }));
  });

  it('ignores out-of-order statuses with a warning', () => {
    const { state, commands } = run([
      { type: 'start', nowMs: 0 },
      status('auth_success', '', 1),
      status('connected', '', 2),
      status('connected', '', 3),
    ]);
    expect(state.phase).toBe('authenticating');
    expect(commands.filter((command) => command.type === 'log' && command.level === 'warn')).toHaveLength(2);
  });

  it('stop closes the socket and nothing happens afterwards', () => {
    const streaming = run(handshake).state;
    const stopped = run(
      [
        { type: 'stop', nowMs: 10 },
        { type: 'closed', code: 1000, reason: '', nowMs: 11 },
        { type: 'retry', nowMs: 12 },
        { type: 'start', nowMs: 13 },
      ],
      streaming,
    );
    expect(stopped.state.phase).toBe('stopped');
    expect(actions(stopped.commands)).toEqual([{ type: 'close', reason: 'stopping' }]);
    const fromBackoff = run([
      { type: 'start', nowMs: 0 },
      { type: 'closed', code: 1006, reason: '', nowMs: 1 },
      { type: 'stop', nowMs: 2 },
    ]);
    expect(actions(fromBackoff.commands).filter((command) => command.type === 'close')).toEqual([]);
  });

  it('ignores start twice, retry outside backoff, and closes while idle', () => {
    const started = run([
      { type: 'start', nowMs: 0 },
      { type: 'start', nowMs: 1 },
      { type: 'retry', nowMs: 2 },
    ]);
    expect(actions(started.commands)).toEqual([{ type: 'open', url: config.url }]);
    expect(run([{ type: 'closed', code: 1000, reason: '', nowMs: 0 }]).state.phase).toBe('idle');
  });

  it('backoff grows exponentially with equal jitter up to the ceiling, deterministic per seed', () => {
    expect(backoffDelay(config, 0, 0)).toBe(50);
    expect(backoffDelay(config, 0, 1)).toBe(100);
    expect(backoffDelay(config, 3, 0.5)).toBe(600);
    expect(backoffDelay(config, 50, 1)).toBe(1600);
    const delays: number[] = [];
    let state = initialState(7);
    for (let attempt = 0; attempt < 6; attempt += 1) {
      const result = run(
        [
          { type: 'start', nowMs: 0 },
          { type: 'retry', nowMs: 0 },
          { type: 'closed', code: 1006, reason: '', nowMs: 0 },
        ],
        state,
      );
      state = result.state;
      const retry = result.commands.find((command) => command.type === 'scheduleRetry');
      if (retry?.type === 'scheduleRetry') delays.push(retry.delayMs);
    }
    delays.forEach((delay, attempt) => {
      const cap = Math.min(1600, 100 * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(cap / 2);
      expect(delay).toBeLessThanOrEqual(cap);
    });
    const [value, seed] = nextRandom(7);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(nextRandom(7)).toEqual([value, seed]);
  });
});
