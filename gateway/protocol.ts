import { z } from 'zod';
import type { ClientFrame, ErrorCode, Limits } from './client/protocol.js';

const id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'an id of 1-64 letters, digits or _ . : -');
const symbol = z.string().regex(/^[A-Za-z0-9.^:_-]{1,24}$/, 'a ticker symbol');
const name = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/);

const position = z.union([
  z.enum(['latest', 'earliest']),
  z.strictObject({ cursor: z.string().min(1).max(4096) }),
  z.strictObject({ timestamp: z.number().int().nonnegative() }),
  z.strictObject({ offsets: z.record(z.string().regex(/^\d{1,5}$/), z.number().int().nonnegative()) }),
]);

function frameSchema(limits: Limits) {
  return z.discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('auth'),
        token: z.string().min(1).max(8192).optional(),
        apiKey: z.string().min(1).max(256).optional(),
      })
      .refine((frame) => (frame.token === undefined) !== (frame.apiKey === undefined), { message: 'give exactly one of token or apiKey' }),
    z.strictObject({
      type: z.literal('subscribe'),
      id,
      stream: z.enum(['patterns', 'bars']),
      filter: z
        .strictObject({
          symbols: z.array(symbol).min(1).optional(),
          universe: name.optional(),
          patterns: z.array(name).min(1).max(256).optional(),
          tiers: z
            .array(z.enum(['INTRADAY', 'DAILY', 'COMBO']))
            .min(1)
            .optional(),
          kinds: z
            .array(z.enum(['DETECTED', 'UPDATED', 'EXPIRED']))
            .min(1)
            .optional(),
        })
        .optional(),
      from: z.union([position, z.literal('snapshot')]).optional(),
      conflate: z.boolean().optional(),
      credits: z.number().int().min(0).max(limits.maxCredits).optional(),
    }),
    z.strictObject({ type: z.literal('credit'), id, n: z.number().int().min(1).max(limits.maxCredits) }),
    z.strictObject({ type: z.literal('seek'), id, to: position, credits: z.number().int().min(0).max(limits.maxCredits).optional() }),
    z.strictObject({ type: z.literal('unsubscribe'), id }),
    z.strictObject({ type: z.literal('ping'), nonce: z.string().max(64).optional() }),
  ]);
}

export const CLIENT_FRAME_TYPES = ['auth', 'subscribe', 'credit', 'seek', 'unsubscribe', 'ping'] as const;

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string; path?: string; id?: string };

/** A parser of client frames under the given limits; every rejection names its error code. */
export function createFrameParser(limits: Limits): (text: string) => ParseResult {
  const schema = frameSchema(limits);
  return (text) => {
    if (Buffer.byteLength(text, 'utf8') > limits.maxFrameBytes) {
      return { ok: false, code: 'frame_too_large', message: `frames are limited to ${limits.maxFrameBytes} bytes` };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { ok: false, code: 'malformed_json', message: 'the frame is not valid JSON' };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, code: 'malformed_json', message: 'a frame must be a JSON object' };
    }
    const record = value as Record<string, unknown>;
    const frameId = typeof record.id === 'string' ? record.id : undefined;
    if (typeof record.type !== 'string' || !(CLIENT_FRAME_TYPES as readonly string[]).includes(record.type)) {
      return {
        ok: false,
        code: 'unknown_type',
        message: `unknown frame type ${JSON.stringify(record.type)}; expected one of ${CLIENT_FRAME_TYPES.join(', ')}`,
      };
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.join('.');
      return { ok: false, code: 'bad_field', message: `${path || 'frame'}: ${issue.message}`, path, ...(frameId ? { id: frameId } : {}) };
    }
    const frame = parsed.data as ClientFrame;
    if (frame.type === 'subscribe' && (frame.filter?.symbols?.length ?? 0) > limits.maxSymbolsPerSubscription) {
      return {
        ok: false,
        code: 'subscription_too_large',
        message: `a subscription may name at most ${limits.maxSymbolsPerSubscription} symbols`,
        id: frame.id,
      };
    }
    return { ok: true, frame };
  };
}

/**
 * A token bucket: `rate` frames per second on average, bursts of `burst`. Pure: the caller passes the time.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
