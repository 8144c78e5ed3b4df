import type { LogEvent } from './types.js';

/** What a subscription asks for once universes are resolved to symbols; an absent field means "any". */
export interface EventFilter {
  readonly symbols?: ReadonlySet<string>;
  readonly patterns?: ReadonlySet<string>;
  readonly tiers?: ReadonlySet<string>;
  readonly kinds?: ReadonlySet<string>;
}

export function compileFilter(spec: {
  readonly symbols?: readonly string[] | undefined;
  readonly patterns?: readonly string[] | undefined;
  readonly tiers?: readonly string[] | undefined;
  readonly kinds?: readonly string[] | undefined;
}): EventFilter {
  const set = (values: readonly string[] | undefined) => (values === undefined ? undefined : new Set(values));
  return { symbols: set(spec.symbols), patterns: set(spec.patterns), tiers: set(spec.tiers), kinds: set(spec.kinds) };
}

export function matches(filter: EventFilter, event: LogEvent): boolean {
  if (filter.symbols && !filter.symbols.has(event.key)) return false;
  if (filter.patterns && !filter.patterns.has(event.tags.pattern ?? '')) return false;
  if (filter.tiers && !filter.tiers.has(event.tags.tier ?? '')) return false;
  if (filter.kinds && !filter.kinds.has(event.tags.kind ?? '')) return false;
  return true;
}
