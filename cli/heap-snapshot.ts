/**
 * Reading V8 heap snapshots (`.heapsnapshot`, as `node --heapsnapshot-signal` or `v8.writeHeapSnapshot` write them)
 * to find what grows between an early and a late snapshot of one process: self sizes summed by constructor (the
 * DevTools "Summary" view), and the largest collections (Map, Set, Array) named by what holds them
 * (`DuplicateFilter.windows`), so that a growing structure is named, not guessed.
 */
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

export interface ConstructorTotal {
  readonly count: number;
  readonly selfBytes: number;
}

export interface HeapSummary {
  readonly totalBytes: number;
  /** Keyed by constructor name for objects, `(type)` otherwise (`(string)`, `(array)`, `(closure)`, ...). */
  readonly byConstructor: ReadonlyMap<string, ConstructorTotal>;
  /** Backing-store bytes of Map/Set tables and Array elements, summed by holder (`Owner.property`). */
  readonly collections: ReadonlyMap<string, ConstructorTotal>;
}

const COLLECTION_BACKING: Readonly<Record<string, string>> = { Map: 'table', Set: 'table', Array: 'elements' };

export function summarizeHeapSnapshot(raw: RawSnapshot): HeapSummary {
  const meta = raw.snapshot.meta;
  const nodeFieldCount = meta.node_fields.length;
  const edgeFieldCount = meta.edge_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const edgeToAt = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = raw;
  const nodeCount = nodes.length / nodeFieldCount;
  const labelOf = (node: number): string => {
    const type = nodeTypes[nodes[node * nodeFieldCount + typeAt]!]!;
    return type === 'object' || type === 'native' ? strings[nodes[node * nodeFieldCount + nameAt]!]! : `(${type})`;
  };

  const byConstructor = new Map<string, { count: number; selfBytes: number }>();
  let totalBytes = 0;
  // Where each node's edges start, and the first strong holder (owner node and edge name) of each node.
  const firstEdge = new Uint32Array(nodeCount + 1);
  const holder = new Int32Array(nodeCount).fill(-1);
  const holderEdge = new Array<string | undefined>(nodeCount);
  for (let node = 0, edge = 0; node < nodeCount; node += 1) {
    firstEdge[node] = edge;
    const size = nodes[node * nodeFieldCount + sizeAt]!;
    totalBytes += size;
    const label = labelOf(node);
    const entry = byConstructor.get(label);
    if (entry) {
      entry.count += 1;
      entry.selfBytes += size;
    } else byConstructor.set(label, { count: 1, selfBytes: size });
    edge += nodes[node * nodeFieldCount + edgeCountAt]! * edgeFieldCount;
    firstEdge[node + 1] = edge;
  }
  for (let node = 0; node < nodeCount; node += 1) {
    for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge += edgeFieldCount) {
      const type = edgeTypes[edges[edge + edgeTypeAt]!];
      if (type !== 'property' && type !== 'context' && type !== 'element' && type !== 'internal') continue;
      const to = edges[edge + edgeToAt]! / nodeFieldCount;
      if (holder[to] !== -1) continue;
      holder[to] = node;
      const name = edges[edge + edgeNameAt]!;
      holderEdge[to] = type === 'element' ? '[]' : strings[name];
    }
  }

  const collections = new Map<string, { count: number; selfBytes: number }>();
  for (let node = 0; node < nodeCount; node += 1) {
    const backing = COLLECTION_BACKING[labelOf(node)];
    if (backing === undefined || nodeTypes[nodes[node * nodeFieldCount + typeAt]!] !== 'object') continue;
    let bytes = 0;
    for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge += edgeFieldCount) {
      if (edgeTypes[edges[edge + edgeTypeAt]!] === 'internal' && strings[edges[edge + edgeNameAt]!] === backing)
        bytes += nodes[(edges[edge + edgeToAt]! / nodeFieldCount) * nodeFieldCount + sizeAt]!;
    }
    const owner = holder[node]!;
    const where = owner === -1 ? '(root)' : `${labelOf(owner)}.${holderEdge[node] ?? '?'}`;
    const key = `${labelOf(node)} ${where}`;
    const entry = collections.get(key);
    if (entry) {
      entry.count += 1;
      entry.selfBytes += bytes;
    } else collections.set(key, { count: 1, selfBytes: bytes });
  }
  return { totalBytes, byConstructor, collections };
}

export function readHeapSnapshot(path: string): HeapSummary {
  return summarizeHeapSnapshot(JSON.parse(readFileSync(path, 'utf8')) as RawSnapshot);
}

export interface HeapGrowth {
  readonly name: string;
  readonly countBefore: number;
  readonly countAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/** What grew most from `before` to `after`, largest byte growth first. */
export function heapGrowth(
  before: ReadonlyMap<string, ConstructorTotal>,
  after: ReadonlyMap<string, ConstructorTotal>,
  limit = 15,
): HeapGrowth[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names]
    .map((name) => ({
      name,
      countBefore: before.get(name)?.count ?? 0,
      countAfter: after.get(name)?.count ?? 0,
      bytesBefore: before.get(name)?.selfBytes ?? 0,
      bytesAfter: after.get(name)?.selfBytes ?? 0,
    }))
    .sort((a, b) => b.bytesAfter - b.bytesBefore - (a.bytesAfter - a.bytesBefore))
    .slice(0, limit);
}
