/**
 * The Massive WebSocket protocol client as a pure state machine: (state, event) -> (state, commands).
 * The `ws` adapter (socket-client.ts) turns socket callbacks and timers into events and carries the
 * commands out. Nothing here does I/O or reads the clock: time arrives in the events.
 *
 * connecting -> awaitingConnected -> authenticating -> subscribing -> streaming; any failure -> backoff
 * -> connecting again, forever (jittered exponential backoff; attempt count reset once streaming).
 */
import { backoffDelay as exponentialBackoff } from '../platform/backoff.js';

export type Phase = 'idle' | 'connecting' | 'authenticating' | 'subscribing' | 'streaming' | 'backoff' | 'stopped';

export interface ProtocolConfig {
  readonly url: string;
  readonly apiKey: string;
  /** Subscription params, e.g. ["T.*", "Q.*", "AM.*"]. */
  readonly subscriptions: readonly string[];
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Each handshake step (open, connected, auth, subscribe ack) must complete within this. */
  readonly handshakeTimeoutMs: number;
  /** Streaming with nothing received for this long sends a ping. */
  readonly idlePingMs: number;
  /** A ping unanswered (no pong and no data) for this long declares the connection dead. */
  readonly pongTimeoutMs: number;
}

export interface ProtocolState {
  readonly phase: Phase;
  /** Connection attempts since the last time streaming was reached. */
  readonly attempt: number;
  readonly phaseSinceMs: number;
  readonly lastActivityMs: number;
  readonly pingSentMs: number | undefined;
  /** Seed of the jitter PRNG (mulberry32), so backoff is deterministic under test. */
  readonly rngSeed: number;
  readonly connections: number;
  readonly reconnects: number;
}

export type ProtocolEvent =
  | { readonly type: 'start'; readonly nowMs: number }
  | { readonly type: 'opened'; readonly nowMs: number }
  | { readonly type: 'status'; readonly status: string; readonly message: string; readonly nowMs: number }
  | { readonly type: 'data'; readonly nowMs: number }
  | { readonly type: 'pong'; readonly nowMs: number }
  | { readonly type: 'closed'; readonly code: number; readonly reason: string; readonly nowMs: number }
  | { readonly type: 'error'; readonly message: string; readonly nowMs: number }
  | { readonly type: 'tick'; readonly nowMs: number }
  | { readonly type: 'retry'; readonly nowMs: number }
  | { readonly type: 'stop'; readonly nowMs: number };

export type LogLevel = 'info' | 'warn' | 'error';

export type ProtocolCommand =
  | { readonly type: 'open'; readonly url: string }
  | { readonly type: 'send'; readonly message: { readonly action: string; readonly params: string } }
  | { readonly type: 'ping' }
  | { readonly type: 'close'; readonly reason: string }
  | { readonly type: 'scheduleRetry'; readonly delayMs: number }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string; readonly fields: Readonly<Record<string, unknown>> };

export interface Transition {
  readonly state: ProtocolState;
  readonly commands: readonly ProtocolCommand[];
}

export function initialState(seed = 1): ProtocolState {
  return {
    phase: 'idle',
    attempt: 0,
    phaseSinceMs: 0,
    lastActivityMs: 0,
    pingSentMs: undefined,
    rngSeed: seed >>> 0,
    connections: 0,
    reconnects: 0,
  };
}

/** mulberry32: returns [uniform in [0,1), next seed]. */
export function nextRandom(seed: number): [number, number] {
  const next = (seed + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

/** "Equal jitter": half the exponential delay fixed, half random, capped. */
export function backoffDelay(config: ProtocolConfig, attempt: number, random: number): number {
  return Math.round(exponentialBackoff({ baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs, jitter: 'equal' }, attempt, random));
}

const log = (level: LogLevel, message: string, fields: Record<string, unknown> = {}): ProtocolCommand => ({
  type: 'log',
  level,
  message,
  fields,
});

function enter(state: ProtocolState, phase: Phase, nowMs: number, extra: Partial<ProtocolState> = {}): ProtocolState {
  return { ...state, phase, phaseSinceMs: nowMs, ...extra };
}

/** Leaves the current connection and schedules the next attempt. */
function fail(config: ProtocolConfig, state: ProtocolState, nowMs: number, reason: string, closeSocket: boolean): Transition {
  const [random, rngSeed] = nextRandom(state.rngSeed);
  const delayMs = backoffDelay(config, state.attempt, random);
  const commands: ProtocolCommand[] = [];
  if (closeSocket) commands.push({ type: 'close', reason });
  commands.push(
    log('warn', 'connection lost; reconnecting after backoff', { reason, from: state.phase, attempt: state.attempt + 1, delayMs }),
  );
  commands.push({ type: 'scheduleRetry', delayMs });
  return { state: enter(state, 'backoff', nowMs, { rngSeed, pingSentMs: undefined, attempt: state.attempt + 1 }), commands };
}

function connect(config: ProtocolConfig, state: ProtocolState, nowMs: number): Transition {
  const reconnects = state.connections > 0 ? state.reconnects + 1 : state.reconnects;
  return {
    state: enter(state, 'connecting', nowMs, {
      connections: state.connections + 1,
      reconnects,
      lastActivityMs: nowMs,
      pingSentMs: undefined,
    }),
    commands: [{ type: 'open', url: config.url }, log('info', 'connecting', { url: config.url, attempt: state.attempt })],
  };
}

const HANDSHAKE: ReadonlySet<Phase> = new Set(['connecting', 'authenticating', 'subscribing']);

export function transition(config: ProtocolConfig, state: ProtocolState, event: ProtocolEvent): Transition {
  if (state.phase === 'stopped') return { state, commands: [] };
  const now = event.nowMs;
  switch (event.type) {
    case 'start':
      return state.phase === 'idle' ? connect(config, state, now) : { state, commands: [] };
    case 'stop': {
      const commands: ProtocolCommand[] = [log('info', 'stopping', { from: state.phase })];
      if (state.phase !== 'idle' && state.phase !== 'backoff') commands.unshift({ type: 'close', reason: 'stopping' });
      return { state: enter(state, 'stopped', now), commands };
    }
    case 'retry':
      return state.phase === 'backoff' ? connect(config, state, now) : { state, commands: [] };
    case 'opened':
      // The server speaks first (`connected`); just note the activity.
      return { state: { ...state, lastActivityMs: now }, commands: [log('info', 'socket open; waiting for connected status', {})] };
    case 'data':
    case 'pong':
      return { state: { ...state, lastActivityMs: now, pingSentMs: undefined }, commands: [] };
    case 'closed':
      if (state.phase === 'backoff' || state.phase === 'idle') return { state, commands: [] };
      return fail(config, state, now, `socket closed (code ${event.code}${event.reason ? `: ${event.reason}` : ''})`, false);
    case 'error':
      if (state.phase === 'backoff' || state.phase === 'idle')
        return { state, commands: [log('warn', 'socket error', { error: event.message })] };
      return fail(config, state, now, `socket error: ${event.message}`, true);
    case 'status':
      return onStatus(config, { ...state, lastActivityMs: now, pingSentMs: undefined }, event.status, event.message, now);
    case 'tick':
      return onTick(config, state, now);
  }
}

function onStatus(config: ProtocolConfig, state: ProtocolState, status: string, message: string, now: number): Transition {
  switch (status) {
    case 'connected':
      if (state.phase !== 'connecting') return { state, commands: [log('warn', 'unexpected connected status', { phase: state.phase })] };
      return {
        state: enter(state, 'authenticating', now),
        commands: [
          log('info', 'connected; authenticating', { message }),
          { type: 'send', message: { action: 'auth', params: config.apiKey } },
        ],
      };
    case 'auth_success':
      if (state.phase !== 'authenticating') return { state, commands: [log('warn', 'unexpected auth_success', { phase: state.phase })] };
      return {
        state: enter(state, 'subscribing', now),
        commands: [
          log('info', 'authenticated; subscribing', { subscriptions: config.subscriptions.join(',') }),
          { type: 'send', message: { action: 'subscribe', params: config.subscriptions.join(',') } },
        ],
      };
    case 'auth_failed':
    case 'auth_timeout':
      // A wrong key will not fix itself, but a key rotation might: keep retrying, at the backoff ceiling pace.
      return withLog(fail(config, state, now, `${status}: ${message}`, true), log('error', 'authentication failed', { status, message }));
    case 'success':
      if (state.phase === 'subscribing' && /subscribed to/i.test(message)) {
        return { state: enter(state, 'streaming', now, { attempt: 0 }), commands: [log('info', 'streaming', { message })] };
      }
      return { state, commands: [log('info', 'status', { status, message })] };
    case 'max_connections':
    case 'disconnected':
      return fail(config, state, now, `${status}: ${message}`, true);
    default:
      return { state, commands: [log(status === 'error' ? 'warn' : 'info', 'status', { status, message })] };
  }
}

function withLog(result: Transition, entry: ProtocolCommand): Transition {
  return { state: result.state, commands: [entry, ...result.commands] };
}

function onTick(config: ProtocolConfig, state: ProtocolState, now: number): Transition {
  if (HANDSHAKE.has(state.phase) && now - state.phaseSinceMs > config.handshakeTimeoutMs) {
    return fail(config, state, now, `handshake timeout in ${state.phase} after ${now - state.phaseSinceMs} ms`, true);
  }
  if (state.phase !== 'streaming') return { state, commands: [] };
  if (state.pingSentMs !== undefined) {
    if (now - state.pingSentMs > config.pongTimeoutMs)
      return fail(config, state, now, `dead connection: no data and no pong for ${now - state.lastActivityMs} ms`, true);
    return { state, commands: [] };
  }
  if (now - state.lastActivityMs > config.idlePingMs) return { state: { ...state, pingSentMs: now }, commands: [{ type: 'ping' }] };
  return { state, commands: [] };
}
