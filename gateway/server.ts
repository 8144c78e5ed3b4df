import type { Registry } from 'prom-client';
import type { Logger } from '../platform/index.js';
import type { Authenticator, UniverseResolver } from './access.js';
import type { Limits } from './client/protocol.js';
import type { GatewayConfig } from './config.js';
import { routeHttp } from './http.js';
import type { LogSource } from './kafka-log.js';
import { createGatewayMetrics } from './metrics.js';
import { GatewaySessions, type SessionScheduler } from './session.js';
import type { SnapshotSource } from './snapshot.js';
import type { TopicTail } from './topic-tail.js';
import { routeWebSockets } from './transport-uws.js';
import type { UwsListenSocket, UwsRuntime } from './uws-runtime.js';
import type { StreamName } from './types.js';

export interface GatewayServerOptions {
  readonly config: GatewayConfig;
  readonly tails: ReadonlyMap<StreamName, TopicTail>;
  readonly source: LogSource;
  readonly authenticator: Authenticator;
  readonly universes: UniverseResolver;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly serverName: string;
  /** The uWS build to serve with (uws-runtime.ts: native, or the emulation the operator opted in to). */
  readonly uws: UwsRuntime;
  /** Serve /metrics on the gateway port too (false in production). */
  readonly publicMetrics: boolean;
  /** True once the process is stopping; /ready answers 503 from then on. */
  readonly draining?: () => boolean;
  /** The SDK bundled for browsers (served at /sdk.js). */
  readonly sdkBundle: () => Promise<string>;
  /** How long to keep retrying a busy port at start. */
  readonly listenRetryMs: number;
  /** Snapshots from the read model; without it (or when it cannot answer) snapshots come from the rings. */
  readonly snapshots?: SnapshotSource;
  /** Sees every frame sent, as sent (the integration tests check each against gateway/asyncapi.yaml). */
  readonly onFrameSent?: (frame: string | Buffer) => void;
}

/** Node's timers: delivery after the current I/O callbacks, retries that do not hold the process open. */
const nodeScheduler: SessionScheduler = {
  immediate: (task) => {
    setImmediate(task);
  },
  after: (delayMs, task) => {
    setTimeout(task, delayMs).unref();
  },
};

/**
 * The gateway's shell: the uWebSockets.js app (WebSockets in transport-uws.ts, HTTP endpoints in http.ts), the
 * timers, and the tails' events, all wired to the sessions (session.ts: the shell that runs the protocol's pure core,
 * session-core.ts).
 */
export class GatewayServer {
  private readonly app;
  private listenSocket: UwsListenSocket | undefined;
  private closing = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribeTails: (() => void)[] = [];
  private readonly sessions: GatewaySessions;
  readonly limits: Limits;
  port = 0;

  constructor(private readonly options: GatewayServerOptions) {
    this.app = options.uws.uws.App();
    this.sessions = new GatewaySessions({
      config: options.config,
      tails: options.tails,
      source: options.source,
      authenticator: options.authenticator,
      universes: options.universes,
      logger: options.logger,
      metrics: createGatewayMetrics(options.registry),
      serverName: options.serverName,
      clock: Date.now,
      scheduler: nodeScheduler,
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
      ...(options.onFrameSent ? { onFrameSent: options.onFrameSent } : {}),
    });
    this.limits = this.sessions.limits;
  }

  async listen(host: string, port: number): Promise<number> {
    routeWebSockets(this.options.uws.uws, this.app, this.sessions, this.options.config);
    routeHttp(this.app, {
      tails: this.options.tails,
      registry: this.options.registry,
      logger: this.options.logger,
      sdkBundle: this.options.sdkBundle,
      connectionCount: () => this.sessions.connectionCount,
      transport: { build: this.options.uws.build, native: this.options.uws.native },
      publicMetrics: this.options.publicMetrics,
      draining: () => this.closing || (this.options.draining?.() ?? false),
      dashboardUrl: this.options.config.GATEWAY_DASHBOARD_URL,
    });
    for (const [stream, tail] of this.options.tails) {
      this.unsubscribeTails.push(
        tail.onAppend(() => this.sessions.appended(stream)),
        tail.onPartitionsAdded((added) => this.sessions.partitionsAdded(stream, added)),
        tail.onReset(() => this.sessions.topicReset(stream)),
      );
    }
    // uWebSockets.js binds without SO_REUSEADDR: right after a restart, connections the previous process closed
    // sit in TIME_WAIT on the port for up to a minute. Keep trying rather than fail the restart.
    const deadline = Date.now() + this.options.listenRetryMs;
    for (let attempt = 1; ; attempt += 1) {
      const socket = await new Promise<UwsListenSocket | false>((resolve) => this.app.listen(host, port, resolve));
      if (socket) {
        this.listenSocket = socket;
        this.port = this.options.uws.uws.us_socket_local_port(socket);
        break;
      }
      if (port === 0 || Date.now() >= deadline) throw new Error(`gateway could not listen on ${host}:${port}`);
      if (attempt === 1) this.options.logger.warn({ host, port }, 'port busy (TIME_WAIT after a restart?); retrying');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    this.timers.push(setInterval(() => this.sessions.heartbeat(), this.options.config.GATEWAY_HEARTBEAT_MS));
    this.timers.push(setInterval(() => this.sessions.housekeeping(Date.now()), 1_000));
    return this.port;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const unsubscribe of this.unsubscribeTails) unsubscribe();
    if (this.listenSocket) this.options.uws.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.sessions.shutdown();
  }

  get connectionCount(): number {
    return this.sessions.connectionCount;
  }

  /** Bytes waiting in the send buffers of every connection, and the largest of one connection. */
  sendBuffers(): { total: number; largest: number } {
    return this.sessions.sendBuffers();
  }
}
