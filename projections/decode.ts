import type { KafkaMessage } from 'kafkajs';
import { isRegistryUnreachable, type AvroCodec } from '../platform/codec.js';
import { isBroadcastCopy } from '../platform/broadcast.js';

/** A Kafka message after decoding: a value, a tombstone, a broadcast copy to skip, or undecodable input. */
export type DecodedMessage =
  | { readonly offset: number; readonly kind: 'value'; readonly value: unknown; readonly raw: Buffer }
  | { readonly offset: number; readonly kind: 'tombstone'; readonly key: string | null }
  | { readonly offset: number; readonly kind: 'skip' }
  | { readonly offset: number; readonly kind: 'undecodable'; readonly reason: string; readonly raw: Buffer };

/**
 * Decodes a batch. Undecodable bytes are reported (never thrown) so the caller can keep them; only a registry
 * that cannot be reached throws, so the batch is retried rather than misfiled.
 */
export async function decodeMessages(codec: AvroCodec, messages: readonly KafkaMessage[]): Promise<DecodedMessage[]> {
  const decoded: DecodedMessage[] = [];
  for (const message of messages) {
    const offset = Number(message.offset);
    if (isBroadcastCopy(message.headers)) {
      decoded.push({ offset, kind: 'skip' });
      continue;
    }
    if (message.value === null) {
      decoded.push({ offset, kind: 'tombstone', key: message.key === null ? null : message.key.toString('utf8') });
      continue;
    }
    const raw = message.value;
    let value: unknown;
    try {
      value = codec.decodeCached(raw);
    } catch (error) {
      decoded.push({ offset, kind: 'undecodable', reason: `undecodable: ${error instanceof Error ? error.message : String(error)}`, raw });
      continue;
    }
    if (value === undefined) {
      // First sight of this schema id: fetch it, which may fail for an unknown id (bad input) or an unreachable registry.
      try {
        value = await codec.decode(raw);
      } catch (error) {
        if (isRegistryUnreachable(error)) throw error;
        decoded.push({
          offset,
          kind: 'undecodable',
          reason: `undecodable: ${error instanceof Error ? error.message : String(error)}`,
          raw,
        });
        continue;
      }
    }
    decoded.push({ offset, kind: 'value', value, raw });
  }
  return decoded;
}
