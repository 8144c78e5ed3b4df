import type { Command } from 'commander';
import {
  AvroCodec,
  applyTopics,
  createKafka,
  createLogger,
  loadPlatformConfig,
  TOPICS,
  TOPIC_KEYS,
  topicName,
  valueSubject,
} from '../platform/index.js';
import { formatStatus, LocalStack } from './local-stack.js';
import { describeTopics, formatDescriptions } from '../platform/describe-topics.js';

/** `topics apply`: every topic created or updated, every schema registered (BACKWARD per subject). */
export async function applyTopicsAndSchemas(report: (line: string) => void): Promise<void> {
  const config = loadPlatformConfig();
  const logger = createLogger('topics', { level: config.LOG_LEVEL });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-topics`, logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = await applyTopics(admin, config.TOPIC_PREFIX);
    const ids = await new AvroCodec(config.SCHEMA_REGISTRY_URL, config.TOPIC_PREFIX).registerAll();
    for (const key of TOPIC_KEYS) {
      const name = topicName(key, config.TOPIC_PREFIX);
      const spec = TOPICS[key];
      const state = result.created.includes(name) ? 'created' : 'updated';
      report(
        `${name.padEnd(34)} ${state.padEnd(8)} partitions=${spec.partitions} cleanup=${spec.cleanupPolicy} retention.ms=${spec.retentionMs} schema id ${ids[valueSubject(name)]}`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('the local stack: Kafka (KRaft) and Apicurio Registry from Maven Central, plus the local PostgreSQL and Redis');
  stack
    .command('up')
    .description('fetch (once), start and wait for Kafka and the registry; check PostgreSQL and Redis')
    .action(async () => {
      const started = Date.now();
      const statuses = await new LocalStack().up((line) => console.log(line));
      console.log(formatStatus(statuses));
      console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (statuses.some((server) => !server.up)) process.exitCode = 1;
    });
  stack
    .command('down')
    .description('stop what `stack up` started (Kafka, registry); PostgreSQL and Redis are left alone')
    .action(async () => {
      await new LocalStack().down((line) => console.log(line));
    });
  stack
    .command('status')
    .description('each server with its state, version and address (exit 1 when one is down)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const statuses = await new LocalStack().status();
      console.log(options.json ? JSON.stringify(statuses, null, 2) : formatStatus(statuses));
      if (statuses.some((server) => !server.up)) process.exitCode = 1;
    });

  const topics = program.command('topics').description('Kafka topics and their schemas');
  topics
    .command('apply')
    .description('create or update every topic (partitions, retention, cleanup) and register every schema (BACKWARD per subject)')
    .action(async () => {
      await applyTopicsAndSchemas((line) => console.log(line));
    });
  topics
    .command('describe')
    .description('partitions, offsets, retention and the lag of each consumer group, for every pipeline topic')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = loadPlatformConfig();
      const logger = createLogger('topics', { level: 'warn' });
      const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${config.KAFKA_CLIENT_ID}-topics`, logger });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const descriptions = await describeTopics(
          admin,
          TOPIC_KEYS.map((key) => topicName(key, config.TOPIC_PREFIX)),
        );
        console.log(options.json ? JSON.stringify(descriptions, null, 2) : formatDescriptions(descriptions));
      } finally {
        await admin.disconnect();
      }
    });
}
