import type { Producer } from '../platform/index.js';

/** The one producer call the sink makes (kafkajs `Producer` in production; a stub in unit tests). */
export type BatchProducer = Pick<Producer, 'sendBatch' | 'disconnect'>;
