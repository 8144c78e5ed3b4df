import WebSocket from 'ws';
import type { Logger } from '../platform/index.js';
import {
  initialState,
  transition,
  type Phase,
  type ProtocolCommand,
  type ProtocolConfig,
  type ProtocolEvent,
  type ProtocolState,
} from './protocol.js';
import { isStatusItem } from './wire.js';

export interface SocketClientHandlers {
  /** Every frame's text as received (data and status alike); called synchronously, in order. */
  readonly onFrame: (text: string, receivedAtMs: number) => void;
  readonly onPhase?: (phase: Phase, state: ProtocolState) => void;
}

/**
 * The thin `ws` shell around the protocol machine: it feeds socket callbacks and a tick timer to
 * `transition` and executes the commands. Status items are peeked out of a frame only when the frame
 * starts like a status frame, so data frames are parsed once (by the ingest core).
 */
export class MassiveSocketClient {
  private state: ProtocolState;
  private socket: WebSocket | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(
    private readonly config: ProtocolConfig,
    private readonly handlers: SocketClientHandlers,
    private readonly logger: Logger,
    private readonly tickMs = Math.max(50, Math.min(1000, Math.floor(config.pongTimeoutMs / 4))),
    seed = Math.floor(Math.random() * 2 ** 32),
  ) {
    this.state = initialState(seed);
  }

  get phase(): Phase {
    return this.state.phase;
  }

  get reconnects(): number {
    return this.state.reconnects;
  }

  start(): void {
    // No heartbeat while paused: the silence is ours (we stopped reading), not a dead server's.
    this.tickTimer = setInterval(() => this.paused || this.dispatch({ type: 'tick', nowMs: Date.now() }), this.tickMs);
    this.tickTimer.unref();
    this.dispatch({ type: 'start', nowMs: Date.now() });
  }

  stop(): void {
    this.dispatch({ type: 'stop', nowMs: Date.now() });
    clearInterval(this.tickTimer);
    clearTimeout(this.retryTimer);
  }

  /** Flow control: stop reading the socket while the sink catches up (TCP pushes back to the server). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket?.resume();
    // Restart the silence clock from now.
    this.dispatch({ type: 'data', nowMs: Date.now() });
  }

  private dispatch(event: ProtocolEvent): void {
    const before = this.state.phase;
    const { state, commands } = transition(this.config, this.state, event);
    this.state = state;
    for (const command of commands) this.execute(command);
    if (state.phase !== before) this.handlers.onPhase?.(state.phase, state);
  }

  private execute(command: ProtocolCommand): void {
    switch (command.type) {
      case 'open':
        this.open(command.url);
        return;
      case 'send':
        this.socket?.send(JSON.stringify(command.message));
        return;
      case 'ping':
        this.socket?.ping();
        return;
      case 'close': {
        const socket = this.socket;
        this.socket = undefined;
        if (socket) {
          socket.removeAllListeners();
          socket.on('error', () => {});
          socket.terminate();
        }
        return;
      }
      case 'scheduleRetry':
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.dispatch({ type: 'retry', nowMs: Date.now() }), command.delayMs);
        return;
      case 'log':
        this.logger[command.level]({ ...command.fields, phase: this.state.phase }, command.message);
        return;
    }
  }

  private open(url: string): void {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: this.config.handshakeTimeoutMs });
    this.socket = socket;
    const current = () => this.socket === socket;
    socket.on('open', () => {
      if (!current()) return;
      // ws ignores pause() while connecting, so apply a pending pause once open.
      if (this.paused) socket.pause();
      this.dispatch({ type: 'opened', nowMs: Date.now() });
    });
    socket.on('message', (data: WebSocket.RawData) => {
      if (!current()) return;
      const now = Date.now();
      const text = rawToString(data);
      this.handlers.onFrame(text, now);
      this.dispatchStatuses(text, now);
    });
    socket.on('pong', () => current() && this.dispatch({ type: 'pong', nowMs: Date.now() }));
    socket.on('close', (code: number, reason: Buffer) => {
      if (!current()) return;
      this.socket = undefined;
      this.dispatch({ type: 'closed', code, reason: reason.toString('utf8'), nowMs: Date.now() });
    });
    socket.on('error', (error: Error) => current() && this.dispatch({ type: 'error', message: error.message, nowMs: Date.now() }));
  }

  private dispatchStatuses(text: string, now: number): void {
    // Status frames are small and start with a status item; data frames go through without a second parse.
    if (!STATUS_FRAME.test(text.slice(0, 64))) {
      this.dispatch({ type: 'data', nowMs: now });
      return;
    }
    let items: unknown;
    try {
      items = JSON.parse(text);
    } catch {
      return;
    }
    if (!Array.isArray(items)) return;
    for (const item of items) {
      if (isStatusItem(item))
        this.dispatch({ type: 'status', status: String(item.status), message: String(item.message ?? ''), nowMs: now });
    }
  }
}

const STATUS_FRAME = /^\s*\[\s*\{\s*"ev"\s*:\s*"status"/;

function rawToString(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
