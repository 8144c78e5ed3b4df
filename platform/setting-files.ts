import { readFileSync } from 'node:fs';

/** Reads a file a setting names (a CA, a certificate, a key). */
export type SettingFileReader = (path: string) => string;

export const readSettingFile: SettingFileReader = (path) => readFileSync(path, 'utf8');

/**
 * The files settings name, read at once so that every unreadable one becomes an issue naming its setting (and the
 * caller throws one ConfigError listing them all), rather than the first failure ending the check.
 */
export function readSettingFiles<Name extends string>(
  files: Readonly<Record<Name, string | undefined>>,
  issues: string[],
  readFile: SettingFileReader = readSettingFile,
): Record<Name, string | undefined> {
  const read = (name: string, path: string | undefined): string | undefined => {
    if (!path) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      issues.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return undefined;
    }
  };
  return Object.fromEntries(Object.entries(files).map(([name, path]) => [name, read(name, path as string | undefined)])) as Record<
    Name,
    string | undefined
  >;
}
