import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { capturedLogger } from '../test/log-capture.js';
import { connectFencing, createKafka, isProducerFenced, noDelaySocketFactory, transientBrokerAnswer } from './kafka.js';
import { createMetricsRegistry } from './metrics.js';
import { KafkajsRequestQueue } from './kafkajs-timers.js';

describe('noDelaySocketFactory', () => {
  let server: Server | undefined;
  afterEach(() => {
    vi.restoreAllMocks();
    server?.close();
  });

  it('connects with Nagle off and keep-alive on, and calls back once connected', async () => {
    server = createServer((peer) => peer.end());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    const keepAlive = vi.spyOn(Socket.prototype, 'setKeepAlive');
    let socket: Socket | undefined;
    await new Promise<void>((resolve) => {
      socket = noDelaySocketFactory({ host: '127.0.0.1', port, ssl: undefined as never, onConnect: resolve });
    });
    expect(socket!.remoteAddress).toBe('127.0.0.1');
    expect(noDelay).toHaveBeenCalledWith(true);
    expect(keepAlive).toHaveBeenCalledWith(true, 60_000);
    socket!.destroy();
  });
});

describe('isProducerFenced', () => {
  const protocolError = (type: string) => Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type });

  it("finds the broker's fencing answer however kafkajs wrapped it", () => {
    expect(isProducerFenced(protocolError('INVALID_PRODUCER_EPOCH'))).toBe(true);
    expect(isProducerFenced(protocolError('PRODUCER_FENCED'))).toBe(true);
    const wrapped = Object.assign(new Error('retries exceeded'), {
      cause: Object.assign(new Error('x'), { cause: protocolError('INVALID_PRODUCER_EPOCH') }),
    });
    expect(isProducerFenced(wrapped)).toBe(true);
  });

  it('anything else is not fencing', () => {
    expect(isProducerFenced(protocolError('NOT_ENOUGH_REPLICAS'))).toBe(false);
    expect(isProducerFenced(new Error('INVALID_PRODUCER_EPOCH in a message only'))).toBe(false);
    expect(isProducerFenced(undefined)).toBe(false);
    expect(isProducerFenced('PRODUCER_FENCED')).toBe(false);
  });
});

describe("kafkajs's request queue", () => {
  afterEach(() => vi.restoreAllMocks());

  // Node 23+ prints a TimeoutNegativeWarning for a negative delay; kafkajs passes one after every response.
  it('arms its throttle check with a delay of at least 1 ms, and the 10 ms re-check while requests wait', () => {
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const check = vi.fn();
    const queue = Object.assign(Object.create(KafkajsRequestQueue.prototype) as InstanceType<typeof KafkajsRequestQueue>, {
      throttledUntil: -1,
      throttleCheckTimeoutId: null,
      pending: [],
      checkPendingRequests: check,
    });
    queue.scheduleCheckPendingRequests();
    expect(timeouts).toHaveBeenLastCalledWith(expect.any(Function), 1);
    queue.scheduleCheckPendingRequests(); // already armed: nothing more
    expect(timeouts).toHaveBeenCalledTimes(1);
    clearTimeout(queue.throttleCheckTimeoutId!);

    Object.assign(queue, { throttleCheckTimeoutId: null, pending: [{}] });
    queue.scheduleCheckPendingRequests();
    expect(timeouts).toHaveBeenLastCalledWith(expect.any(Function), 10);
    clearTimeout(queue.throttleCheckTimeoutId!);

    Object.assign(queue, { throttleCheckTimeoutId: null, throttledUntil: Date.now() + 60_000 });
    queue.scheduleCheckPendingRequests();
    expect(timeouts.mock.lastCall?.[1]).toBeGreaterThan(50_000);
    clearTimeout(queue.throttleCheckTimeoutId!);
    expect(check).not.toHaveBeenCalled();
  });
});

describe('connectFencing', () => {
  it('initialises the transactional id before it resolves (an empty transaction, ended locally), not at the first write', async () => {
    const calls: string[] = [];
    const producer = {
      connect: async () => {
        calls.push('connect');
      },
      transaction: async () => {
        calls.push('transaction');
        return {
          abort: async () => {
            calls.push('abort');
          },
        };
      },
    };
    await connectFencing(producer as unknown as Parameters<typeof connectFencing>[0]);
    expect(calls).toEqual(['connect', 'transaction', 'abort']);
  });
});

describe("createKafka's logs", () => {
  const concurrent =
    'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

  it('logs transient broker answers and the sends they failed at debug, and counts them; other errors at ERROR', async () => {
    const { logger, text } = capturedLogger('kafka-test');
    const registry = createMetricsRegistry('kafka-test');
    const kafka = createKafka({ brokers: ['127.0.0.1:9'], clientId: 'logs', logger, registry, security: { protocol: 'PLAINTEXT' } });
    const kafkaLogger = kafka.logger();
    kafkaLogger.error(`Failed to send messages: ${concurrent}`, { retryCount: 0, retryTime: 238 });
    kafkaLogger.error('Response AddPartitionsToTxn(key: 24, version: 3)', { error: concurrent, correlationId: 7 });
    kafkaLogger.error('Failed to send messages: This server is not the leader for that topic-partition', { retryCount: 1, retryTime: 300 });
    kafkaLogger.error('Failed to send messages: Connection error: connect ECONNREFUSED 127.0.0.1:9', { retryCount: 0, retryTime: 250 });
    const lines = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: number; msg: string; retriable?: string });
    expect(lines.map((line) => [line.level, line.retriable])).toEqual([
      [20, 'CONCURRENT_TRANSACTIONS'],
      [20, 'CONCURRENT_TRANSACTIONS'],
      [20, 'NOT_LEADER_FOR_PARTITION'],
      // Not a broker's answer: a broker out of reach is no normal operation.
      [50, undefined],
    ]);
    const counted = (await registry.getSingleMetric('tickflow_kafka_transient_responses_total')!.get()).values;
    expect(counted.map((value) => [value.labels.api, value.labels.error, value.value])).toEqual([
      ['Produce', 'CONCURRENT_TRANSACTIONS', 1],
      ['AddPartitionsToTxn', 'CONCURRENT_TRANSACTIONS', 1],
      ['Produce', 'NOT_LEADER_FOR_PARTITION', 1],
    ]);
  });

  it('reads no transient type from other messages', () => {
    expect(transientBrokerAnswer('Failed to send messages: something else', undefined)).toBeUndefined();
    expect(transientBrokerAnswer('Response Produce(key: 0, version: 7)', { not: 'a string' })).toBeUndefined();
    expect(transientBrokerAnswer('Crash: KafkaJSNumberOfRetriesExceeded', concurrent)).toBeUndefined();
  });
});
