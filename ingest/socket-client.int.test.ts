import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/index.js';
import type { ProtocolConfig } from './protocol.js';
import { startSimulator, type SimulatorHandle } from './simulator/server.js';
import { MassiveSocketClient } from './socket-client.js';
import { massiveHandshake, startScriptedServer, statusFrame, type ScriptedServer } from './testing/scripted-server.js';

// Real sockets on loopback: the ws adapter + protocol machine against servers that misbehave on purpose.

const logger = createLogger('ingest-socket-test', { level: 'silent' });
const fast: Omit<ProtocolConfig, 'url' | 'apiKey'> = {
  subscriptions: ['T.*', 'AM.*'],
  backoffBaseMs: 20,
  backoffMaxMs: 100,
  handshakeTimeoutMs: 300,
  idlePingMs: 150,
  pongTimeoutMs: 150,
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(url: string, apiKey: string, frames: string[] = [], phases: string[] = []): MassiveSocketClient {
  const instance = new MassiveSocketClient(
    { ...fast, url: `${url}/stocks`, apiKey },
    { onFrame: (text) => frames.push(text), onPhase: (phase) => phases.push(phase) },
    logger,
    25,
    1,
  );
  cleanups.push(() => instance.stop());
  return instance;
}

async function scripted(script: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const server = await startScriptedServer(script);
  cleanups.push(() => server.close());
  return server;
}

describe('Massive socket client (real sockets)', () => {
  it('streams from the simulator: connected -> auth -> subscribe -> data frames', async () => {
    const simulator: SimulatorHandle = await startSimulator({ port: 0, eventsPerSecond: 2000, universeSize: 20, logger });
    cleanups.push(() => simulator.stop());
    const frames: string[] = [];
    const socket = client(simulator.url, 'any-key', frames);
    socket.start();
    await vi.waitFor(() => expect(frames.some((frame) => frame.includes('"ev":"T"'))).toBe(true), { timeout: 10_000 });
    expect(socket.phase).toBe('streaming');
    expect(frames[0]).toContain('"status":"connected"');
  });

  it('auth failure: retries with backoff, never streams, never gives up', async () => {
    const simulator = await startSimulator({ port: 0, apiKey: 'right', universeSize: 5, logger });
    cleanups.push(() => simulator.stop());
    const frames: string[] = [];
    const phases: string[] = [];
    const socket = client(simulator.url, 'wrong', frames, phases);
    socket.start();
    await vi.waitFor(() => expect(socket.reconnects).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    expect(frames.filter((frame) => frame.includes('auth_failed')).length).toBeGreaterThanOrEqual(3);
    expect(phases).not.toContain('streaming');
  });

  it('server closing mid-stream: reconnects, re-authenticates and resubscribes', async () => {
    const server = await scripted({
      onConnection: massiveHandshake.onConnection,
      onMessage: (connection, message) => {
        massiveHandshake.onMessage(connection, message);
        if (message.action === 'subscribe') {
          connection.socket.send(JSON.stringify([{ ev: 'T', sym: 'AAPL', x: 1, i: '1', z: 3, p: 1, s: 1, t: 1, q: connection.index }]));
          if (connection.index === 0) connection.socket.terminate();
        }
      },
    });
    const phases: string[] = [];
    const socket = client(server.url, 'KEY', [], phases);
    socket.start();
    await vi.waitFor(() => expect(server.connections.length).toBe(2), { timeout: 10_000 });
    await vi.waitFor(() => expect(socket.phase).toBe('streaming'));
    expect(server.connections[1]!.received).toEqual([
      { action: 'auth', params: 'KEY' },
      { action: 'subscribe', params: 'T.*,AM.*' },
    ]);
    expect(phases.filter((phase) => phase === 'streaming')).toHaveLength(2);
    expect(socket.reconnects).toBe(1);
  });

  it('a slow server that never says connected is abandoned after the handshake timeout', async () => {
    const server = await scripted({});
    const socket = client(server.url, 'KEY');
    socket.start();
    await vi.waitFor(() => expect(server.connections.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(server.connections[0]!.socket.readyState).not.toBe(server.connections[0]!.socket.OPEN);
  });

  it('a dead connection (silent, no pongs) is detected and replaced', async () => {
    const server = await scripted({ ...massiveHandshake, autoPong: false });
    const phases: string[] = [];
    const socket = client(server.url, 'KEY', [], phases);
    socket.start();
    await vi.waitFor(() => expect(server.connections.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(phases.slice(0, 3)).toEqual(['connecting', 'authenticating', 'subscribing']);
    expect(phases).toContain('backoff');
  });

  it('a status-then-data frame and pause/resume do not lose frames', async () => {
    const server = await scripted({
      onConnection: massiveHandshake.onConnection,
      onMessage: (connection, message) => {
        massiveHandshake.onMessage(connection, message);
        if (message.action === 'subscribe')
          for (let index = 0; index < 50; index += 1) connection.socket.send(statusFrame('info', `n${index}`));
      },
    });
    const frames: string[] = [];
    const socket = client(server.url, 'KEY', frames);
    socket.pause();
    socket.start();
    await vi.waitFor(() => expect(server.connections).toHaveLength(1));
    // Paused: the connected status is not read, so the client has not authenticated.
    expect(socket.phase).toBe('connecting');
    expect(server.connections[0]!.received).toEqual([]);
    socket.resume();
    await vi.waitFor(() => expect(frames.filter((frame) => frame.includes('"info"'))).toHaveLength(50), { timeout: 10_000 });
    socket.pause();
    socket.resume();
  });

  it('no heartbeat while paused by flow control: a silent, pong-less server is not declared dead until resumed', async () => {
    const server = await scripted({ ...massiveHandshake, autoPong: false });
    const phases: string[] = [];
    const socket = client(server.url, 'KEY', [], phases);
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    try {
      socket.start();
      await vi.waitFor(() => expect(socket.phase).toBe('streaming'));
      socket.pause();
      vi.advanceTimersByTime(fast.idlePingMs * 20);
      expect(socket.phase).toBe('streaming');
      expect(server.connections).toHaveLength(1);
      socket.resume();
      vi.advanceTimersByTime(fast.idlePingMs + fast.pongTimeoutMs + 100);
      expect(phases.at(-1)).toBe('backoff');
    } finally {
      vi.useRealTimers();
    }
  });
});
