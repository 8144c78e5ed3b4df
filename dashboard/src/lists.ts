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
