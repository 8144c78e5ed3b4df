import { Help, type HelpConfiguration, type Option, type OutputConfiguration } from 'commander';

/**
 * How `tickflow … --help` shows an option's default, the same way for every option: commander's own
 * `(default: "…", env: NAME)`. An option that overrides an env variable (`new Option(…).env(NAME)`) has no default of
 * its own (the stage reads the variable's declared default when neither is given); its help shows that declared
 * default, looked up by `defaultOf` (the `defineEnv` declarations, `documentedEnv()`), so no default is written twice.
 */
export function helpWithEnvDefaults(defaultOf: (name: string) => string | undefined): HelpConfiguration {
  return {
    optionDescription(option: Option): string {
      const declared = option.envVar === undefined || option.defaultValue !== undefined ? undefined : defaultOf(option.envVar);
      const shown = declared === undefined ? option : Object.assign(Object.create(option) as Option, { defaultValue: declared });
      return Help.prototype.optionDescription.call(this, shown);
    },
  };
}

/** Commander's usage errors start like the CLI's own one-line errors (`tickflow: …`, cli/exit-codes.ts). */
export const USAGE_ERROR_OUTPUT: OutputConfiguration = {
  outputError: (text, write) => write(text.replace(/^error: /, 'tickflow: ')),
};
