/** Pure list helpers of the screens (kept out of .tsx files so unit tests import them without a JSX runtime). */

/** Symbols typed as a list: commas, spaces or new lines between them; upper case (the API validates each). */
export function symbolsFromText(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,;]+/)
        .map((symbol) => symbol.trim().toUpperCase())
        .filter(Boolean),
    ),
  ];
}

/** Counts of the values `keyOf` gives, largest first. */
export function tally<T>(items: readonly T[], keyOf: (item: T) => string): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return [...counts].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
}
