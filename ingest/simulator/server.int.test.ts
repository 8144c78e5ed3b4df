import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../platform/index.js';
import { SessionCalendar } from '../../contracts/calendar.js';
import { MassiveRest } from '../rest.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from './server.js';

// The simulator over real loopback sockets, driven by a bare `ws` client speaking the Massive protocol.

const logger = createLogger('simulator-test', { level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function simulator(options: SimulatorOptions): Promise<SimulatorHandle> {
  const handle = await startSimulator({ port: 0, logger, universeSize: 10, ...options });
  cleanups.push(() => handle.stop());
  return handle;
}

interface Session {
  readonly socket: WebSocket;
  readonly items: Record<string, unknown>[];
  readonly closed: Promise<number>;
  send(action: string, params?: string): void;
  statuses(): string[];
}

async function connect(url: string, path = '/stocks'): Promise<Session> {
  const socket = new WebSocket(`${url}${path}`);
  const items: Record<string, unknown>[] = [];
  socket.on('message', (data) => items.push(...(JSON.parse(data.toString()) as Record<string, unknown>[])));
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  cleanups.push(() => socket.terminate());
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    socket,
    items,
    closed,
    send: (action, params) => socket.send(JSON.stringify(params === undefined ? { action } : { action, params })),
    statuses: () => items.filter((item) => item.ev === 'status').map((item) => `${item.status}: ${item.message}`),
  };
}

describe('simulator protocol', () => {
  it('connected -> auth_success -> per-channel subscription acks -> only subscribed events; unsubscribe acks too', async () => {
    const handle = await simulator({ eventsPerSecond: 5000, apiKey: 'KEY' });
    const session = await connect(handle.url);
    await vi.waitFor(() => expect(session.statuses()).toEqual(['connected: Connected Successfully']));
    session.send('subscribe', 'T.*');
    await vi.waitFor(() => expect(session.statuses()).toContain('error: not authorized'));
    session.send('auth', 'KEY');
    session.send('subscribe', 'T.*,Q.SPY');
    await vi.waitFor(() => expect(session.items.filter((item) => item.ev === 'Q').length).toBeGreaterThan(0), { timeout: 10_000 });
    expect(session.statuses()).toEqual([
      'connected: Connected Successfully',
      'error: not authorized',
      'auth_success: authenticated',
      'success: subscribed to: T.*',
      'success: subscribed to: Q.SPY',
    ]);
    expect(session.items.filter((item) => item.ev === 'Q').every((item) => item.sym === 'SPY')).toBe(true);
    session.send('unsubscribe', 'T.*,Q.SPY');
    await vi.waitFor(() => expect(session.statuses()).toContain('success: unsubscribed to: Q.SPY'));
    session.send('dance');
    session.socket.send('not json');
    await vi.waitFor(() => expect(session.statuses().slice(-2)).toEqual(['error: unknown action "dance"', 'error: message is not JSON']));
    expect(handle.stats().clients).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${handle.port}/metrics`)).text();
    expect(metrics).toMatch(/tickflow_simulator_events_sent_total\{stage="simulator"\} [1-9]/);
    expect((await fetch(`http://127.0.0.1:${handle.port}/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${handle.port}/nope`)).status).toBe(404);
  });

  it('rejects a wrong key with auth_failed and closes', async () => {
    const handle = await simulator({ apiKey: 'KEY' });
    const session = await connect(handle.url);
    session.send('auth', 'WRONG');
    expect(await session.closed).toBe(1008);
    expect(session.statuses()).toEqual(['connected: Connected Successfully', 'auth_failed: authentication failed']);
  });

  it('times out a client that never authenticates', async () => {
    const handle = await simulator({ authTimeoutMs: 100 });
    const session = await connect(handle.url);
    expect(await session.closed).toBe(1008);
    expect(session.statuses()).toContain('auth_timeout: no authentication received in time');
  });

  it('only serves the stocks cluster', async () => {
    const handle = await simulator({});
    const session = await connect(handle.url, '/options');
    expect(await session.closed).toBe(1008);
    expect(session.statuses()[0]).toMatch(/^error: unknown cluster \/options/);
  });

  it('disconnects a slow consumer whose buffer overflows, as Massive does', async () => {
    const handle = await simulator({ eventsPerSecond: 50_000, maxBufferedBytes: 1 });
    const session = await connect(handle.url);
    session.send('auth', 'x');
    session.send('subscribe', 'T.*,Q.*');
    // The client never reads: pause the socket so the server's buffer fills.
    await vi.waitFor(() => expect(session.statuses()).toContain('success: subscribed to: Q.*'));
    session.socket.pause();
    await vi.waitFor(
      async () =>
        expect(await (await fetch(`http://127.0.0.1:${handle.port}/metrics`)).text()).toMatch(
          /slow_consumer_disconnects_total\{stage="simulator"\} 1/,
        ),
      { timeout: 10_000 },
    );
  });

  it('plays a recording back at accelerated speed, in order', async () => {
    const replayEvents = Array.from({ length: 5 }, (_, index) => ({
      timeMs: 1_000 + index * 1000,
      item: { ev: 'T', sym: 'AAPL', x: 1, i: String(index), z: 3, p: 100 + index, s: 100, t: 1_000 + index * 1000, q: index },
    }));
    const handle = await simulator({ replayEvents, speed: 100 });
    const session = await connect(handle.url);
    session.send('auth', 'x');
    session.send('subscribe', 'T.AAPL');
    await vi.waitFor(() => expect(session.items.filter((item) => item.ev === 'T')).toHaveLength(5), { timeout: 10_000 });
    expect(session.items.filter((item) => item.ev === 'T').map((item) => item.q)).toEqual([0, 1, 2, 3, 4]);
  });

  it('jumps its clock from a Friday close to the Monday open: every event lies in a regular session', async () => {
    const calendar = new SessionCalendar();
    const friday = Date.parse('2026-11-20T15:59:50-05:00');
    const monday = Date.parse('2026-11-23T09:30:00-05:00');
    const handle = await simulator({ eventsPerSecond: 2000, speed: 60, startTimeMs: friday, calendar });
    const session = await connect(handle.url);
    session.send('auth', 'x');
    session.send('subscribe', 'T.*,AM.*');
    await vi.waitFor(() => expect(session.items.some((item) => item.ev === 'T' && (item.t as number) >= monday)).toBe(true), {
      timeout: 10_000,
    });
    expect(handle.clockMs()).toBeGreaterThanOrEqual(monday);
    const times = session.items.filter((item) => item.ev === 'T').map((item) => item.t as number);
    expect(times.every((time) => calendar.inSession(time))).toBe(true);
    expect(session.items.some((item) => item.ev === 'AM' && item.s === Date.parse('2026-11-20T15:59:00-05:00'))).toBe(true);
  });

  it('answers the Massive REST endpoints a backfill uses, through the real client, from its universe and start prices', async () => {
    const handle = await simulator({ apiKey: 'secret', startTimeMs: Date.parse('2026-11-24T14:31:00Z'), speed: 60, universeSize: 20 });
    const base = `http://127.0.0.1:${handle.port}`;
    const rest = new MassiveRest({ apiKey: 'secret', baseUrl: base, logger, maxRetries: 0 });
    const tickers = await rest.tickers();
    expect(tickers.results.map((ticker) => ticker.ticker)).toHaveLength(20);
    expect(tickers.results[0]).toMatchObject({ ticker: 'SPY', type: 'ETF' });
    expect(await rest.tickerDetails('AAPL')).toMatchObject({ ticker: 'AAPL', primary_exchange: 'XNAS', sic_code: expect.any(String) });
    expect(await rest.tickerDetails('NOPE')).toBeUndefined();
    const daily = await rest.bars('AAPL', 'day', '2026-11-16', '2026-11-30');
    // Complete sessions before the start only: Monday 16th to Monday 23rd.
    expect(daily.results).toHaveLength(6);
    expect(await rest.ratios('AAPL')).toMatchObject({ ticker: 'AAPL', date: '2026-11-23' });
    expect(await rest.incomeStatements('AAPL')).toHaveLength(8);
    // The key is checked like the WebSocket's.
    expect((await fetch(`${base}/v3/reference/tickers?apiKey=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/v3/reference/tickers`)).status).toBe(401);
  });
});
