import { Option, type Command } from 'commander';
import {
  AvroCodec,
  applyTopics,
  createKafka,
  createLogger,
  loadKafkaSettings,
  loadPlatformConfig,
  partitionCount,
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
    const layout = loadKafkaSettings();
    const partitions = layout.KAFKA_PARTITIONS;
    const result = await applyTopics(admin, config.TOPIC_PREFIX, undefined, layout);
    const ids = await new AvroCodec(config.SCHEMA_REGISTRY_URL, config.TOPIC_PREFIX).registerAll();
    for (const key of TOPIC_KEYS) {
      const name = topicName(key, config.TOPIC_PREFIX);
      const spec = TOPICS[key];
      const state = result.created.includes(name) ? 'created' : 'updated';
      report(
        `${name.padEnd(34)} ${state.padEnd(8)} partitions=${partitionCount(spec, partitions)} cleanup=${spec.cleanupPolicy} retention.ms=${spec.retentionMs} schema id ${ids[valueSubject(name)]}`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

interface StackOptions {
  readonly brokers?: string;
  readonly saslSsl?: boolean;
}

/** The env with the command's options over it (`--brokers 3` is STACK_BROKERS=3, `--sasl-ssl` STACK_KAFKA_SASL_SSL=true). */
function stackEnv(options: StackOptions): Record<string, string | undefined> {
  return {
    ...process.env,
    ...(options.brokers ? { STACK_BROKERS: options.brokers } : {}),
    ...(options.saslSsl ? { STACK_KAFKA_SASL_SSL: 'true' } : {}),
  };
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('the local stack: Kafka (KRaft) and Apicurio Registry from Maven Central, plus the local PostgreSQL and Redis');
  stack
    .command('up')
    .description('fetch (once), start and wait for Kafka and the registry; check PostgreSQL and Redis')
    .addOption(new Option('--brokers <count>', 'Kafka brokers to run: 3 for a replicated cluster').env('STACK_BROKERS'))
    // Not .env(): commander would turn a boolean flag on for any value, STACK_KAFKA_SASL_SSL=false included.
    .option('--sasl-ssl', 'add a SASL_SSL listener to each broker, and print the client settings for it (as STACK_KAFKA_SASL_SSL=true)')
    .action(async (options: StackOptions) => {
      const started = Date.now();
      const stack = new LocalStack(stackEnv(options));
      const statuses = await stack.up((line) => console.log(line));
      const secured = stack.saslSslClientEnv();
      if (secured)
        console.log(
          `clients through SASL_SSL:\n${Object.entries(secured)
            .map(([name, value]) => `  ${name}=${value}`)
            .join('\n')}`,
        );
      console.log(formatStatus(statuses));
      console.log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (statuses.some((server) => !server.up)) process.exitCode = 1;
    });
  stack
    .command('down')
    .description('stop what `stack up` started (every broker, the registry); PostgreSQL and Redis are left alone')
    .action(async () => {
      await new LocalStack().down((line) => console.log(line));
    });
  stack
    .command('status')
    .description('each server (every broker) with its state, version and address (exit 1 when one is down)')
    .addOption(new Option('--brokers <count>', 'Kafka brokers the stack runs').env('STACK_BROKERS'))
    .option('--json', 'print JSON')
    .action(async (options: StackOptions & { json?: boolean }) => {
      const statuses = await new LocalStack(stackEnv(options)).status();
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
