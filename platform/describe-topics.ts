import type { Admin } from 'kafkajs';

// kafkajs is CommonJS and its ConfigResourceTypes enum is not a detectable named export under Node ESM.
const TOPIC_RESOURCE = 2;

export interface TopicDescription {
  readonly topic: string;
  readonly partitions: { partition: number; low: string; high: string; leader: number }[];
  readonly configs: Record<string, string>;
  readonly groups: { groupId: string; lag: number; partitions: { partition: number; committed: string; lag: number }[] }[];
}

const SHOWN_CONFIGS = ['cleanup.policy', 'retention.ms', 'retention.bytes', 'segment.ms', 'min.cleanable.dirty.ratio'];

/** Partitions, offsets, retention and each consumer group's lag, for the given topics. */
export async function describeTopics(admin: Admin, topics: readonly string[]): Promise<TopicDescription[]> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((topic) => existing.has(topic));
  if (present.length === 0) return [];
  const metadata = await admin.fetchTopicMetadata({ topics: [...present] });
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: SHOWN_CONFIGS })),
  });
  const { groups } = await admin.listGroups();
  const results: TopicDescription[] = [];
  for (const topic of present) {
    // Committed offsets first, log ends after: a group committing in between then shows a lag a little too
    // high, never a negative one.
    const committedByGroup = [];
    for (const { groupId } of groups) committedByGroup.push({ groupId, committed: await admin.fetchOffsets({ groupId, topics: [topic] }) });
    const offsets = await admin.fetchTopicOffsets(topic);
    const high = new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)]));
    const leaders = new Map(
      metadata.topics.find((entry) => entry.name === topic)!.partitions.map((entry) => [entry.partitionId, entry.leader]),
    );
    const resource = configs.resources.find((entry) => entry.resourceName === topic);
    const groupLags: TopicDescription['groups'] = [];
    for (const { groupId, committed } of committedByGroup) {
      const partitions = (committed[0]?.partitions ?? [])
        .filter((entry) => entry.offset !== '-1')
        .map((entry) => {
          const end = high.get(entry.partition) ?? 0n;
          return { partition: entry.partition, committed: entry.offset, lag: Number(end - BigInt(entry.offset)) };
        });
      if (partitions.length > 0) groupLags.push({ groupId, lag: partitions.reduce((sum, entry) => sum + entry.lag, 0), partitions });
    }
    results.push({
      topic,
      partitions: offsets
        .map((entry) => ({ partition: entry.partition, low: entry.low, high: entry.high, leader: leaders.get(entry.partition) ?? -1 }))
        .sort((a, b) => a.partition - b.partition),
      configs: Object.fromEntries((resource?.configEntries ?? []).map((entry) => [entry.configName, entry.configValue])),
      groups: groupLags,
    });
  }
  return results;
}

export function formatDescriptions(descriptions: readonly TopicDescription[]): string {
  const lines: string[] = [];
  for (const description of descriptions) {
    const records = description.partitions.reduce((sum, entry) => sum + (Number(entry.high) - Number(entry.low)), 0);
    lines.push(
      `${description.topic}  partitions=${description.partitions.length}  records=${records}  ${Object.entries(description.configs)
        .map(([name, value]) => `${name}=${value}`)
        .join('  ')}`,
    );
    for (const partition of description.partitions)
      lines.push(`  p${partition.partition}  offsets ${partition.low}..${partition.high}  leader ${partition.leader}`);
    for (const group of description.groups)
      lines.push(
        `  group ${group.groupId}  lag ${group.lag}  (${group.partitions.map((entry) => `p${entry.partition}:${entry.lag}`).join(' ')})`,
      );
  }
  return lines.join('\n');
}
