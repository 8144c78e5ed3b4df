import type { Logger } from '../platform/index.js';
import { AuthError } from '../platform/index.js';
import { isDatabaseUnavailable } from '../store/availability.js';
import type { Authenticator, UniverseResolver } from './access.js';
import { deliveriesFrame, type FrameScratch } from './batch.js';
import type { Disconnect, ErrorCode, Limits, ServerFrame } from './client/protocol.js';
import type { GatewayConfig } from './config.js';
import { OffsetOutOfRangeError, type LogSource } from './kafka-log.js';
import {
  initialSessionState,
  rulesOf,
  sessionCore,
  step,
  type ReadFailure,
  type ReadResult,
  type SessionCommand,
  type SessionCore,
  type SessionEnv,
  type SessionInput,
  type SessionRead,
  type SessionState,
} from './session-core.js';
import type { SnapshotSource } from './snapshot.js';
import type { TopicTail } from './topic-tail.js';
import type { StreamName } from './types.js';

/**
 * The shell around the session core (session-core.ts): it owns the core's state, feeds it socket events, the
 * tails' news, timer ticks and the answers of the ports, and carries out its commands: frames to the connection's
 * `SessionTransport` (uWebSockets.js in transport-uws.ts, a fake in session.test.ts), reads against the
 * `LogSource`, `Authenticator`, `UniverseResolver` and `SnapshotSource`, deferred work through `scheduler`, and
 * the metrics and log lines. As Centrifuge's Client behind its Transport, the logic runs without a socket; the core
 * runs without ports too (session-core.test.ts).
 */

/** What a session needs from its socket. */
export interface SessionTransport {
  /** Sends one text frame (a string or its UTF-8 bytes; the bytes may be a scratch view, copied at once). */
  send(frame: string | Buffer): void;
  /** Closes the socket with a named close code. */
  close(disconnect: Disconnect): void;
  /** Bytes waiting in the socket's send buffer. */
  bufferedAmount(): number;
}

/** Deferred work: `immediate` after the current I/O callbacks (delivery batches), `after` a delay (retries). */
export interface SessionScheduler {
  immediate(task: () => void): void;
  after(delayMs: number, task: () => void): void;
}

/** What sessions read of a stream's tail: its rings, its topic and a metadata refresh. */
export type SessionTail = Pick<TopicTail, 'rings' | 'topic' | 'refreshPartitions'>;

/** The counters and gauges sessions move (metrics.ts registers them with prom-client). */
export interface SessionMetrics {
  readonly connections: { set(value: number): void };
  readonly subscriptions: { inc(): void; dec(): void };
  readonly delivered: { inc(labels: { stream: StreamName }, value: number): void };
  readonly frames: { inc(labels: { type: string }): void };
  readonly errors: { inc(labels: { code: ErrorCode }): void };
  readonly readBacks: { inc(): void };
  readonly unrecoverable: { inc(labels: { reason: string }): void };
  readonly backpressure: { inc(): void };
  readonly sendBuffer: { set(value: number): void };
  readonly closes: { inc(labels: { reason: string }): void };
}

export interface SessionOptions {
  readonly config: GatewayConfig;
  readonly tails: ReadonlyMap<StreamName, SessionTail>;
  readonly source: LogSource;
  readonly authenticator: Authenticator;
  readonly universes: UniverseResolver;
  readonly logger: Logger;
  readonly metrics: SessionMetrics;
  readonly serverName: string;
  readonly clock: () => number;
  readonly scheduler: SessionScheduler;
  /** Snapshots from the read model; without it (or when it cannot answer) snapshots come from the rings. */
  readonly snapshots?: SnapshotSource;
  /** Sees every frame sent, as sent (the integration tests check each against gateway/asyncapi.yaml). */
  readonly onFrameSent?: (frame: string | Buffer) => void;
}

/** One client connection; the transport keeps it as its handle and passes it back with each socket event. */
export interface Connection {
  readonly id: number;
  readonly transport: SessionTransport;
}

/** Read-backs take what one fetch gives, without waiting for more. */
const READ_BACK = { maxWaitMs: 0, maxBytesPerPartition: 1024 * 1024 };

/** Every connection of one gateway: the session core's state, and the sockets and ports it speaks through. */
export class GatewaySessions {
  private readonly core: SessionCore;
  private readonly state: SessionState;
  private readonly transports = new Map<number, SessionTransport>();
  private nextConnectionId = 1;
  readonly limits: Limits;
  private readonly metrics: SessionMetrics;
  /** The core's view of the world: `now` is set before each step (one object, no allocation per input). */
  private readonly env: { now: number; streams: SessionEnv['streams']; bufferedBytes(connection: number): number };
  /** Transports copy what they send (uWebSockets.js into the socket or its own buffer), so one buffer serves every frame. */
  private readonly frameScratch: FrameScratch = { buffer: Buffer.allocUnsafeSlow(256 * 1024) };
  /** Made once: scheduling a flush makes no closure. */
  private readonly flushNow = (): void => this.run({ type: 'flush' });

  constructor(private readonly options: SessionOptions) {
    this.core = sessionCore(rulesOf(options.config, options.serverName, options.snapshots !== undefined));
    this.limits = this.core.rules.limits;
    this.state = initialSessionState(options.tails.keys());
    this.metrics = options.metrics;
    const transports = this.transports;
    this.env = {
      now: 0,
      streams: options.tails,
      bufferedBytes: (connection) => transports.get(connection)?.bufferedAmount() ?? 0,
    };
  }

  get connectionCount(): number {
    return this.transports.size;
  }

  /** Bytes waiting in the send buffers of every connection, and the largest of one connection. */
  sendBuffers(): { total: number; largest: number } {
    let total = 0;
    let largest = 0;
    for (const transport of this.transports.values()) {
      const buffered = transport.bufferedAmount();
      total += buffered;
      largest = Math.max(largest, buffered);
    }
    return { total, largest };
  }

  /** Closes every connection (the gateway is stopping). */
  shutdown(): void {
    this.run({ type: 'shutdown' });
  }

  // ---------------------------------------------------------------- inputs

  /** Records arrived on `stream`: its subscriptions read on. */
  appended(stream: StreamName): void {
    this.run({ type: 'appended', stream });
  }

  /** Partitions were added to `stream`'s topic, each with its log start. */
  partitionsAdded(stream: StreamName, added: ReadonlyMap<number, number>): void {
    this.run({ type: 'partitionsAdded', stream, added });
  }

  /** `stream`'s topic was recreated: every position in it is void. */
  topicReset(stream: StreamName): void {
    this.run({ type: 'topicReset', stream });
  }

  /** A socket opened: the connection is greeted with `welcome`; the transport keeps the returned handle. */
  open(transport: SessionTransport): Connection {
    const connection: Connection = { id: this.nextConnectionId++, transport };
    this.transports.set(connection.id, transport);
    this.metrics.connections.set(this.transports.size);
    this.run({ type: 'open', connection: connection.id });
    return connection;
  }

  /** The socket closed (by either side): nothing is sent to it any more. */
  disconnected(connection: Connection): void {
    if (!this.transports.delete(connection.id)) return;
    this.metrics.connections.set(this.transports.size);
    this.run({ type: 'closed', connection: connection.id });
  }

  /** The socket's send buffer drained: delivery paused on back-pressure resumes once it is below the limit. */
  drain(connection: Connection): void {
    this.run({ type: 'drain', connection: connection.id });
  }

  /** A frame from the client. */
  message(connection: Connection, message: ArrayBuffer, isBinary: boolean): void {
    this.run({ type: 'message', connection: connection.id, data: message, binary: isBinary });
  }

  /** Every GATEWAY_HEARTBEAT_MS: each authenticated connection hears its subscriptions' positions. */
  heartbeat(): void {
    this.run({ type: 'heartbeat' });
  }

  /** Every second: closes connections that did not authenticate, stay idle or stopped reading. */
  housekeeping(now: number): void {
    this.metrics.sendBuffer.set(this.sendBuffers().total);
    this.run({ type: 'tick' }, now);
  }

  // ---------------------------------------------------------------- commands

  /** One step of the core, then its commands. */
  private run(input: SessionInput, now = this.options.clock()): void {
    this.env.now = now;
    let commands: readonly SessionCommand[];
    try {
      commands = step(this.core, this.state, input, this.env).commands;
    } catch (error) {
      this.options.logger.error({ err: error, input: input.type }, 'session step failed');
      return;
    }
    for (let index = 0; index < commands.length; index += 1) this.execute(commands[index]!);
  }

  private execute(command: SessionCommand): void {
    switch (command.type) {
      case 'events': {
        const transport = this.transports.get(command.connection);
        if (!transport) return;
        this.metrics.delivered.inc({ stream: command.stream }, command.deliveries.length);
        this.sendText(
          transport,
          deliveriesFrame(
            `{"type":"events","id":${JSON.stringify(command.id)},"cursor":${JSON.stringify(command.cursor)},"events":[`,
            command.deliveries,
            ']}',
            this.frameScratch,
          ),
        );
        return;
      }
      case 'send': {
        const transport = this.transports.get(command.connection);
        if (!transport) return;
        const { frame } = command;
        if (frame.type === 'error') this.metrics.errors.inc({ code: frame.code });
        else if (frame.type === 'unrecoverable') this.metrics.unrecoverable.inc({ reason: frame.reason });
        this.sendText(transport, JSON.stringify(frame satisfies ServerFrame));
        return;
      }
      case 'close': {
        const transport = this.transports.get(command.connection);
        if (!transport) return;
        this.metrics.closes.inc({ reason: command.disconnect.name });
        // Done as soon as asked: a socket closed inside its own open handler is not known to the transport's close
        // handler yet, and `disconnected` after this finds nothing left to do.
        this.transports.delete(command.connection);
        this.metrics.connections.set(this.transports.size);
        transport.close(command.disconnect);
        this.run({ type: 'closed', connection: command.connection });
        return;
      }
      case 'read':
        if (command.read.kind === 'log') this.metrics.readBacks.inc();
        this.read(command.connection, command.ticket, command.read);
        return;
      case 'flushSoon':
        this.options.scheduler.immediate(this.flushNow);
        return;
      case 'retryAfter':
        this.options.scheduler.after(command.delayMs, () =>
          this.run({ type: 'retry', connection: command.connection, subscription: command.subscription }),
        );
        return;
      case 'metric': {
        const { metric } = command;
        if (metric.name === 'clientFrames') this.metrics.frames.inc({ type: metric.frameType });
        else if (metric.name === 'backpressurePauses') this.metrics.backpressure.inc();
        else if (metric.delta > 0) this.metrics.subscriptions.inc();
        else this.metrics.subscriptions.dec();
        return;
      }
      case 'log':
        this.options.logger[command.level](command.fields, command.message);
        return;
    }
  }

  private sendText(transport: SessionTransport, text: string | Buffer): void {
    this.options.onFrameSent?.(text);
    transport.send(text);
  }

  /** Carries out a read through its port, and feeds the answer back to the core. */
  private read(connection: number, ticket: number, read: SessionRead): void {
    this.perform(read).then(
      (result) => this.run({ type: 'result', connection, ticket, result }),
      (error: unknown) => {
        const failure: ReadFailure = isDatabaseUnavailable(error)
          ? 'unavailable'
          : error instanceof AuthError
            ? 'refused'
            : error instanceof OffsetOutOfRangeError
              ? 'outOfRange'
              : 'failed';
        this.run({ type: 'failed', connection, ticket, failure, message: error instanceof Error ? error.message : String(error), error });
      },
    );
  }

  private async perform(read: SessionRead): Promise<ReadResult> {
    const { options } = this;
    switch (read.kind) {
      case 'authenticate':
        return { kind: read.kind, principal: await options.authenticator.authenticate(read.credentials) };
      case 'universe':
        return { kind: read.kind, symbols: await options.universes.symbolsFor(read.userId, read.key) };
      case 'snapshot':
        return {
          kind: read.kind,
          snapshot: await options.snapshots?.snapshot(read.stream, options.tails.get(read.stream)!.topic.topic, read.filter),
        };
      case 'bounds':
        return { kind: read.kind, bounds: await options.source.bounds(options.tails.get(read.stream)!.topic.topic) };
      case 'offsetsForTime':
        return {
          kind: read.kind,
          offsets: await options.source.offsetsForTime(options.tails.get(read.stream)!.topic.topic, read.timestampMs),
        };
      case 'refreshPartitions':
        await options.tails.get(read.stream)!.refreshPartitions();
        return { kind: read.kind };
      case 'log':
        return { kind: read.kind, reads: await options.source.read(options.tails.get(read.stream)!.topic, read.from, READ_BACK) };
    }
  }
}
