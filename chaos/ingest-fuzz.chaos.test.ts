import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IngestCore, startIngest, type IngestHandle } from '../ingest/index.js';
import type { DeadLetterRecord, TradeRecord } from '../ingest/records.js';
import { createLogger } from '../platform/index.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { scaled } from './config.js';
import { startFakeMassive, type FakeMassive } from './fake-massive.js';
import { recordFigure } from './figures.js';
import { GOOD_SYMBOL, fuzzFrame } from './massive-arbitraries.js';
import { readTopic } from './readers.js';

const NOW = 1_764_000_000_000;

describe('fuzzed Massive frames into the pure ingest core', () => {
  it('never throws; every bad item becomes one dead letter with a reason and every good trade a record, in order', () => {
    let frames = 0;
    let deadLetters = 0;
    fc.assert(
      fc.property(fc.array(fuzzFrame, { minLength: 1, maxLength: 6 }), (batch) => {
        const core = new IngestCore({ source: 'massive' });
        let sequence = 0;
        for (const frame of batch) {
          const { text, goodSequences, deadPayloads } = frame.build(() => (sequence += 1));
          const outcome = core.processFrame(text, NOW);
          frames += 1;
          deadLetters += outcome.deadLetters.length;
          expect(outcome.records.map((record) => (record.value as TradeRecord).sequence)).toEqual(goodSequences);
          expect(outcome.records.every((record) => record.key === GOOD_SYMBOL && record.topic === 'trades')).toBe(true);
          expect(outcome.deadLetters.map((letter) => letter.value.rawPayload.toString('utf8'))).toEqual(deadPayloads);
          for (const letter of outcome.deadLetters) expect(letter.value.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: scaled(1500, 50) },
    );
    recordFigure({ suite: 'bad-input', case: 'massive frames -> ingest core (pure)', frames, deadLetters, crashes: 0, outcome: 'pass' });
  });

  // Regression: a status item whose `status` or `message` is an object with a non-callable toString made
  // String() throw inside processFrame, and the exception escaped the socket's message handler (ingest died).
  it('dead-letters a status item whose status or message is not a string instead of throwing', () => {
    const core = new IngestCore({ source: 'massive' });
    for (const item of [
      { ev: 'status', status: { toString: 1 } },
      { ev: 'status', status: 'success', message: { valueOf: 'x', toString: [] } },
      { ev: 'status', status: 7 },
    ]) {
      const outcome = core.processFrame(JSON.stringify([item]), NOW);
      expect(outcome.statuses).toEqual([]);
      expect(outcome.deadLetters).toHaveLength(1);
      expect(outcome.deadLetters[0]!.value.reason).toMatch(/status/);
    }
    expect(core.processFrame(JSON.stringify([{ ev: 'status', status: 'success', message: 'ok' }]), NOW).statuses).toHaveLength(1);
  });
});

describe('fuzzed Massive frames through a live socket into a running ingest', () => {
  let kafka: TestKafka;
  let massive: FakeMassive;
  let ingest: IngestHandle;

  beforeAll(async () => {
    kafka = await createTestTopics('chaos-ingest-fuzz');
    massive = await startFakeMassive();
    ingest = await startIngest({
      source: 'massive',
      url: massive.url,
      apiKey: 'chaos-fuzz-key',
      subscriptions: ['T.*', 'Q.*', 'A.*', 'AM.*'],
      kafka: kafka.kafka,
      codec: kafka.codec,
      benchmarkSymbol: 'SPY',
      logger: createLogger('chaos-ingest', { level: 'silent' }),
    });
    await massive.subscribed();
  });

  afterAll(async () => {
    await ingest?.stop();
    await massive?.stop();
    await kafka?.cleanup();
  });

  it('keeps streaming: each bad frame or item reaches the dead-letter topic with a reason, good trades land once', async () => {
    const seed = Date.now() % 1_000_000;
    const frames = fc.sample(fuzzFrame, { numRuns: scaled(400, 40), seed });
    let sequence = 0;
    const expectedGood: number[] = [];
    const expectedDead: string[] = [];
    for (const frame of frames) {
      const built = frame.build(() => (sequence += 1));
      expectedGood.push(...built.goodSequences);
      expectedDead.push(...built.deadPayloads);
      massive.send(built.text);
    }
    // A final good frame marks the end of the input: once it is on Kafka, every frame before it was handled.
    const last = (sequence += 1);
    massive.send(JSON.stringify([{ ev: 'T', sym: GOOD_SYMBOL, x: 4, i: 'end', z: 3, p: 1, s: 1, t: NOW, q: last }]));
    expectedGood.push(last);
    await vi.waitFor(
      async () => {
        const produced = (await ingest.metrics.eventsOut.get()).values
          .filter((entry) => entry.labels.topic === 'trades')
          .reduce((sum, entry) => sum + entry.value, 0);
        expect(produced).toBeGreaterThanOrEqual(expectedGood.length);
      },
      { timeout: 60_000, interval: 200 },
    );
    await ingest.flush();

    const trades = await readTopic<TradeRecord>(kafka.kafka, kafka.codec, kafka.codec.topic('trades'));
    const letters = await readTopic<DeadLetterRecord>(kafka.kafka, kafka.codec, kafka.codec.topic('deadLetters'));
    expect(trades.map((record) => record.value.sequence)).toEqual(expectedGood);
    expect(letters.map((record) => record.value.rawPayload.toString('utf8')).sort()).toEqual([...expectedDead].sort());
    expect(letters.every((record) => record.value.reason.length > 0 && record.value.stage === 'ingest')).toBe(true);
    expect(ingest.phase()).toBe('streaming');
    expect(massive.connections()).toBe(1);
    recordFigure({
      suite: 'bad-input',
      case: 'massive frames -> live ingest socket -> Kafka',
      seed,
      frames: frames.length + 1,
      deadLettersExpected: expectedDead.length,
      deadLettersOnTopic: letters.length,
      goodTradesExpected: expectedGood.length,
      goodTradesOnTopic: trades.length,
      reconnects: massive.connections() - 1,
      outcome: 'pass',
    });
  });
});
