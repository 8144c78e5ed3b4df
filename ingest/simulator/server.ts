import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { Counter, Gauge, createLogger, createMetricsRegistry, type Logger, type Registry } from '../../platform/index.js';
import type { SessionCalendar } from '../../contracts/calendar.js';
import { SimulatorFeed } from './feed.js';
import { simulatedReference } from './reference.js';
import { ReplayCursor, loadRecording, type RecordedEvent } from './replay.js';
import { answerMassiveRest, isMassiveRestPath } from './rest-routes.js';
import { SessionClock } from './session-clock.js';
import { SubscriptionSet } from './subscriptions.js';
import { buildUniverse } from './universe.js';

export interface SimulatorOptions {
  readonly port?: number;
  readonly host?: string;
  /** Trades + quotes per real second (bars come on top). */
  readonly eventsPerSecond?: number;
  /** Simulated seconds per real second: 1 = real time, 60 = one simulated minute per second. */
  readonly speed?: number;
  readonly universeSize?: number;
  readonly benchmarkSymbol?: string;
  readonly seed?: number;
  /** Simulated clock start (ms); default: now. Outside a regular session it moves on to the next open. */
  readonly startTimeMs?: number;
  /** Sessions the simulated clock runs in (it jumps from each close to the next open); default: NYSE. */
  readonly calendar?: SessionCalendar;
  /** When set, only this key authenticates; otherwise any non-empty key does. */
  readonly apiKey?: string;
  readonly secondAggregates?: boolean;
  /**
   * Where the symbols' sequence numbers start (default 0). A feed restarted later in simulated time passes where
   * the last one ended: a real feed's numbers only rise, and ingest drops an event numbered below what it saw.
   */
  readonly firstSequence?: number;
  /** Play this recording instead of generating (at `speed`). */
  readonly replayFile?: string;
  readonly replayEvents?: readonly RecordedEvent[];
  readonly tickMs?: number;
  readonly authTimeoutMs?: number;
  /** A client whose unsent bytes exceed this is disconnected, like Massive does with slow consumers. */
  readonly maxBufferedBytes?: number;
  /**
   * Closed-loop mode for benchmarks: generate nothing while a client has more than 4 MiB unsent, so the
   * rate settles at what the slowest client sustains (offered events above it are not generated).
   */
  readonly flowControl?: boolean;
  readonly maxEventsPerFrame?: number;
  readonly logger?: Logger;
  readonly registry?: Registry;
}

export interface SimulatorHandle {
  readonly port: number;
  /** ws://host:port (the client appends /stocks). */
  readonly url: string;
  readonly registry: Registry;
  stats(): { clients: number; eventsGenerated: number; eventsSent: number };
  /** The simulated clock (ms): always inside a regular session or exactly at its close. */
  clockMs(): number;
  stop(): Promise<void>;
}

interface Client {
  readonly socket: WebSocket;
  authenticated: boolean;
  readonly subscriptions: SubscriptionSet;
  authTimer: NodeJS.Timeout | undefined;
}

const FLOW_CONTROL_BYTES = 4 * 1024 * 1024;

const status = (state: string, message: string) => ({ ev: 'status', status: state, message });

/**
 * A local WebSocket server speaking the Massive stocks protocol (connected, auth, subscribe and
 * unsubscribe with acks, status errors, auth failure and timeout, slow-consumer disconnects) and
 * streaming the synthetic market or a recording. It also answers the Massive REST endpoints a backfill
 * uses (reference tickers, daily aggregates, financials) from the same universe, and /health, /ready and /metrics.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const logger = options.logger ?? createLogger('simulator');
  const registry = options.registry ?? createMetricsRegistry('simulator');
  const generatedCounter = new Counter({
    name: 'tickflow_simulator_events_generated_total',
    help: 'Events the simulator generated (trades, quotes, bars)',
    registers: [registry],
  });
  const sentCounter = new Counter({
    name: 'tickflow_simulator_events_sent_total',
    help: 'Events sent to clients (one per client)',
    registers: [registry],
  });
  const slowCounter = new Counter({
    name: 'tickflow_simulator_slow_consumer_disconnects_total',
    help: 'Clients disconnected for falling behind',
    registers: [registry],
  });
  const clientsGauge = new Gauge({ name: 'tickflow_simulator_clients', help: 'Connected clients', registers: [registry] });

  const speed = options.speed ?? 1;
  const rate = options.eventsPerSecond ?? 5000;
  const tickMs = options.tickMs ?? 20;
  const maxBuffered = options.maxBufferedBytes ?? 64 * 1024 * 1024;
  const maxPerFrame = options.maxEventsPerFrame ?? 2000;
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const universe = buildUniverse(options.universeSize ?? 500, options.seed ?? 42, options.benchmarkSymbol ?? 'SPY');
  const feed = new SimulatorFeed(universe, {
    seed: options.seed ?? 42,
    secondAggregates: options.secondAggregates ?? true,
    firstSequence: options.firstSequence,
  });
  const recording = options.replayEvents ?? (options.replayFile ? loadRecording(options.replayFile) : undefined);
  const replay = recording ? new ReplayCursor(recording, speed) : undefined;

  const clients = new Set<Client>();
  let eventsGenerated = 0;
  let eventsSent = 0;
  const realStart = Date.now();
  const clock = new SessionClock(options.calendar);
  let lastSimMs = clock.sessionInstant(options.startTimeMs ?? realStart);
  // The REST side (what a backfill asks Massive for) answers from the same universe and start prices.
  const reference = simulatedReference(universe, { seed: options.seed ?? 42, startTimeMs: lastSimMs, calendar: options.calendar });
  let restRequests = 0;
  let carry = 0;
  let lastTickReal = realStart;
  let replayStartReal: number | undefined;

  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health' || path === '/ready') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', clients: clients.size }));
      return;
    }
    if (path !== undefined && isMassiveRestPath(path)) {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      const key = url.searchParams.get('apiKey') ?? '';
      restRequests += 1;
      const answer =
        key.length === 0 || (options.apiKey !== undefined && key !== options.apiKey)
          ? { status: 401, body: { status: 'ERROR', error: 'API Key was not provided or is not valid' } }
          : answerMassiveRest(reference, url, { baseUrl: url.origin, pageSize: 50_000, requestId: `sim-${restRequests}` });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
      return;
    }
    if (path === '/metrics') {
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });

  const send = (client: Client, items: readonly unknown[]) => {
    if (client.socket.readyState === client.socket.OPEN) client.socket.send(JSON.stringify(items));
  };

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/stocks') {
      socket.send(JSON.stringify([status('error', `unknown cluster ${path}; only /stocks is simulated`)]));
      socket.close(1008, 'unknown cluster');
      return;
    }
    const client: Client = { socket, authenticated: false, subscriptions: new SubscriptionSet(), authTimer: undefined };
    clients.add(client);
    clientsGauge.set(clients.size);
    client.authTimer = setTimeout(() => {
      send(client, [status('auth_timeout', 'no authentication received in time')]);
      socket.close(1008, 'auth timeout');
    }, authTimeoutMs);
    send(client, [status('connected', 'Connected Successfully')]);
    socket.on('message', (data) => onMessage(client, data.toString()));
    socket.on('close', () => {
      clearTimeout(client.authTimer);
      clients.delete(client);
      clientsGauge.set(clients.size);
    });
    socket.on('error', (error) => logger.warn({ err: error }, 'simulator client socket error'));
  });

  const onMessage = (client: Client, text: string) => {
    let message: { action?: unknown; params?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      send(client, [status('error', 'message is not JSON')]);
      return;
    }
    const params = typeof message.params === 'string' ? message.params : '';
    switch (message.action) {
      case 'auth':
        clearTimeout(client.authTimer);
        if (params.length === 0 || (options.apiKey !== undefined && params !== options.apiKey)) {
          send(client, [status('auth_failed', 'authentication failed')]);
          client.socket.close(1008, 'authentication failed');
          return;
        }
        client.authenticated = true;
        send(client, [status('auth_success', 'authenticated')]);
        return;
      case 'subscribe':
      case 'unsubscribe': {
        if (!client.authenticated) {
          send(client, [status('error', 'not authorized')]);
          return;
        }
        const subscribe = message.action === 'subscribe';
        const accepted = client.subscriptions.apply(params, subscribe);
        send(
          client,
          accepted.map((entry) => status('success', `${subscribe ? 'subscribed' : 'unsubscribed'} to: ${entry}`)),
        );
        return;
      }
      default:
        send(client, [status('error', `unknown action ${JSON.stringify(message.action)}`)]);
    }
  };

  const tick = () => {
    const now = Date.now();
    const elapsedReal = now - lastTickReal;
    lastTickReal = now;
    const listening = [...clients].filter((client) => client.authenticated && !client.subscriptions.empty);
    let events: readonly Record<string, unknown>[];
    if (replay) {
      // A recording starts playing when the first client has subscribed, so nothing is played to nobody.
      if (listening.length === 0 && replayStartReal === undefined) return;
      replayStartReal ??= now;
      events = replay.due(now - replayStartReal);
    } else {
      // Session time only: a tick that crosses a close continues at the next regular open.
      const spans = clock.advance(lastSimMs, elapsedReal * speed);
      carry += (rate * elapsedReal) / 1000;
      let count = Math.floor(carry);
      carry -= count;
      if (options.flowControl && listening.some((client) => client.socket.bufferedAmount > FLOW_CONTROL_BYTES)) count = 0;
      // Nobody listening: time moves on, nothing is generated (no CPU spent on an empty room). With
      // listeners, a tick without events still closes the bars that ended (at a close, on time).
      const channels = {
        luld: listening.some((client) => client.subscriptions.wantsChannel('LULD')),
        fmv: listening.some((client) => client.subscriptions.wantsChannel('FMV')),
      };
      events = listening.length > 0 ? (feed.generateOver(spans, count, channels) as unknown as Record<string, unknown>[]) : [];
      lastSimMs = spans.at(-1)!.toMs;
    }
    if (events.length === 0) return;
    eventsGenerated += events.length;
    generatedCounter.inc(events.length);
    const encoded = events.map((event) => JSON.stringify(event));
    for (const client of listening) {
      if (client.socket.bufferedAmount > maxBuffered) {
        slowCounter.inc();
        logger.warn({ bufferedBytes: client.socket.bufferedAmount }, 'disconnecting slow consumer');
        send(client, [status('error', 'slow consumer: buffer full, disconnecting')]);
        client.socket.terminate();
        continue;
      }
      let frame: string[] = [];
      let sent = 0;
      for (let index = 0; index < events.length; index += 1) {
        const event = events[index]!;
        const symbol = (event.sym ?? event.T) as string;
        if (!client.subscriptions.matches(event.ev as string, symbol)) continue;
        frame.push(encoded[index]!);
        if (frame.length >= maxPerFrame) {
          client.socket.send(`[${frame.join(',')}]`);
          sent += frame.length;
          frame = [];
        }
      }
      if (frame.length > 0) {
        client.socket.send(`[${frame.join(',')}]`);
        sent += frame.length;
      }
      eventsSent += sent;
      sentCounter.inc(sent);
    }
  };
  const timer = setInterval(tick, tickMs);

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8765, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  logger.info({ port, speed, eventsPerSecond: rate, replay: Boolean(replay) }, 'simulator listening');

  return {
    port,
    url: `ws://${host}:${port}`,
    registry,
    stats: () => ({ clients: clients.size, eventsGenerated, eventsSent }),
    clockMs: () => lastSimMs,
    stop: async () => {
      clearInterval(timer);
      for (const client of clients) {
        clearTimeout(client.authTimer);
        client.socket.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
