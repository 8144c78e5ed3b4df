import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, defineEnv, documentedEnv, env, invalidEnv, loadPlatformConfig } from './config.js';

describe('defineEnv', () => {
  const load = defineEnv('example', {
    EXAMPLE_PORT: env.int('port to listen on', 3000),
    EXAMPLE_NAMES: env.list('names', 'a, b ,,c'),
    EXAMPLE_ON: env.bool('a switch', false),
    EXAMPLE_RATIO: env.number('a ratio', 0.5),
    EXAMPLE_KEY: env.optionalString('an optional key'),
    EXAMPLE_MODE: z.enum(['fast', 'safe']).default('safe').describe('mode'),
  });

  it('applies defaults and parses values', () => {
    expect(load({})).toEqual({
      EXAMPLE_PORT: 3000,
      EXAMPLE_NAMES: ['a', 'b', 'c'],
      EXAMPLE_ON: false,
      EXAMPLE_RATIO: 0.5,
      EXAMPLE_KEY: undefined,
      EXAMPLE_MODE: 'safe',
    });
    expect(load({ EXAMPLE_PORT: '8080', EXAMPLE_ON: 'yes', EXAMPLE_KEY: 'k', EXAMPLE_MODE: 'fast', EXAMPLE_NAMES: 'x' })).toMatchObject({
      EXAMPLE_PORT: 8080,
      EXAMPLE_ON: true,
      EXAMPLE_KEY: 'k',
      EXAMPLE_MODE: 'fast',
      EXAMPLE_NAMES: ['x'],
    });
  });

  it('treats an empty value as unset', () => {
    expect(load({ EXAMPLE_PORT: '' }).EXAMPLE_PORT).toBe(3000);
  });

  it('names every bad variable', () => {
    expect(() => load({ EXAMPLE_PORT: 'eighty', EXAMPLE_MODE: 'reckless' })).toThrow(ConfigError);
    try {
      load({ EXAMPLE_PORT: 'eighty', EXAMPLE_MODE: 'reckless' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('EXAMPLE_PORT');
      expect(message).toContain('EXAMPLE_MODE');
    }
  });

  it('lists the set variables that would not parse, as the loaders name them (tickflow config)', () => {
    expect(invalidEnv({ EXAMPLE_PORT: 'eighty', EXAMPLE_MODE: 'reckless', EXAMPLE_KEY: '', EXAMPLE_ON: 'yes', UNDECLARED: 'x' })).toEqual([
      expect.stringMatching(/^EXAMPLE_MODE: .*"fast"\|"safe"/),
      expect.stringMatching(/^EXAMPLE_PORT: .*expected number/),
    ]);
    expect(invalidEnv({})).toEqual([]);
  });

  it('documents each variable with its stage, default and description', () => {
    const docs = documentedEnv();
    expect(docs.find((doc) => doc.name === 'EXAMPLE_PORT')).toEqual({
      stage: 'example',
      name: 'EXAMPLE_PORT',
      description: 'port to listen on',
      defaultValue: '3000',
      required: false,
    });
    expect(docs.find((doc) => doc.name === 'EXAMPLE_KEY')).toMatchObject({ defaultValue: undefined, required: false });
    expect(docs.find((doc) => doc.name === 'KAFKA_BROKERS')?.stage).toBe('platform');
  });

  it('gives the local servers as platform defaults', () => {
    const config = loadPlatformConfig({});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.SCHEMA_REGISTRY_URL).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.TOPIC_PREFIX).toBe('');
    expect(() => loadPlatformConfig({ TOPIC_PREFIX: 'bad prefix!' })).toThrow(/TOPIC_PREFIX/);
  });
});
