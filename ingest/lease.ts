import { AssignerProtocol, type Kafka, type Logger, type PartitionAssigner } from '../platform/index.js';
import {
  LEASE_ROLES,
  chooseLeaseHolder,
  decodeClaim,
  encodeClaim,
  stepLease,
  type LeaseEvent,
  type LeaseRole,
  type LeaseStep,
} from './lease-core.js';
import type { IngestMetrics } from './metrics.js';

/**
 * The Kafka shell of ingest's active/standby lease (decisions in lease-core.ts). Every instance joins the consumer
 * group `groupId` on the one-partition `topic` with the lease assigner below; the member assigned partition 0 is the
 * active instance. A holder that dies stops heartbeating and is out of the group after `sessionTimeoutMs`; the group
 * then gives the partition to the longest-waiting standby. Safety does not rest on timing: the active instance writes
 * through a transactional producer whose id is the same for every instance (ingest/sink.ts), so the new holder's
 * producer fences the old one at the broker before it writes anything.
 */
export interface IngestLeaseOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly groupId: string;
  readonly instance: string;
  readonly sessionTimeoutMs: number;
  readonly logger: Logger;
  readonly metrics: Pick<IngestMetrics, 'leaseRole' | 'leaseTakeovers'>;
  /** Runs the steps that act (activate, deactivate), one at a time, in order. */
  readonly onStep: (step: LeaseStep) => Promise<void>;
  readonly now?: () => number;
}

export interface IngestLease {
  role(): LeaseRole;
  readonly instance: string;
  /** The log refused this instance's writes (another instance holds the lease). */
  fenced(): void;
  /** Resolves once the steps under way (opening or closing the feed) are done. */
  settled(): Promise<void>;
  /** Leaves the group (a standby takes over at once) once the step in progress is done. */
  stop(): Promise<void>;
}

const ASSIGNER_NAME = 'TickflowIngestLease';

export async function joinIngestLease(options: IngestLeaseOptions): Promise<IngestLease> {
  const { logger, metrics, topic } = options;
  const now = options.now ?? Date.now;
  const waitingSinceMs = now();
  let holdingSinceMs: number | null = null;
  let role: LeaseRole = 'joining';
  let steps: Promise<void> = Promise.resolve();
  const showRole = () => {
    for (const each of LEASE_ROLES) metrics.leaseRole.set({ role: each }, each === role ? 1 : 0);
  };
  showRole();

  const apply = (event: LeaseEvent) => {
    const step = stepLease(role, event);
    if (step.role !== role) logger.info({ instance: options.instance, from: role, to: step.role, event: event.kind }, 'ingest lease');
    role = step.role;
    if (step.action === 'activate') holdingSinceMs = now();
    showRole();
    if (step.takeover) metrics.leaseTakeovers.inc();
    if (step.action !== 'none')
      steps = steps
        .then(() => options.onStep(step))
        .catch((error: unknown) => logger.error({ err: error, step }, 'ingest lease step failed'));
  };

  const assigner: PartitionAssigner = () => ({
    name: ASSIGNER_NAME,
    version: 0,
    // Run by the group's leader on every rebalance, with what each member claimed when it joined.
    assign: async ({ members }) => {
      const holder = chooseLeaseHolder(
        members.map((member) => ({
          memberId: member.memberId,
          claim: decodeClaim(AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.userData),
        })),
      );
      return members.map((member) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: member.memberId === holder ? { [topic]: [0] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    // Called at every join: the claim says whether this member holds the lease now.
    protocol: ({ topics }) => ({
      name: ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics,
        userData: encodeClaim({ instance: options.instance, holdingSinceMs: role === 'active' ? holdingSinceMs : null, waitingSinceMs }),
      }),
    }),
  });

  const consumer = options.kafka.consumer({
    groupId: options.groupId,
    partitionAssigners: [assigner],
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 5)),
    rebalanceTimeout: Math.max(options.sessionTimeoutMs, 10_000),
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 1_000,
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    apply({ kind: 'assigned', holds: (event.payload.memberAssignment[topic] ?? []).includes(0) });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    // kafkajs restarts the consumer after a retriable failure (it rejoins: a new assignment follows); otherwise the
    // membership is over.
    if (!event.payload.restart) apply({ kind: 'group-failed' });
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  // The partition is the lease, its records are not this consumer's business (nothing is committed).
  await consumer.run({ autoCommit: false, eachBatch: async () => {} });

  let stopping: Promise<void> | undefined;
  return {
    role: () => role,
    instance: options.instance,
    fenced: () => apply({ kind: 'fenced' }),
    settled: () => steps,
    stop: () => {
      stopping ??= (async () => {
        await steps;
        await consumer.disconnect();
      })();
      return stopping;
    },
  };
}
