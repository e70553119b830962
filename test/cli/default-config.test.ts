import { describe, expect, it } from 'vitest';
import { defaultConfigYaml } from '../../cli/default-config.js';
import { parseConfig } from '../../gateway/config/load.js';

const opts = { host: '127.0.0.1', port: 8080, otlpEndpoint: 'http://127.0.0.1:4317' };

describe('the default configuration of tracegate start', () => {
  it('serves the simulated backend alone when no provider key is set', () => {
    const r = parseConfig(defaultConfigYaml(opts, {}), { env: {} });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect([...r.config.backends.keys()]).toEqual(['simulated']);
  });

  it('adds a real provider for each key in the environment, never inlining the key', () => {
    const env = { OPENAI_API_KEY: 'sk-test-openai', ANTHROPIC_API_KEY: 'sk-ant-test', GEMINI_API_KEY: 'AIza-test-gemini' };
    const text = defaultConfigYaml(opts, env);
    expect(text).not.toContain('sk-test-openai');
    expect(text).not.toContain('sk-ant-test');
    expect(text).not.toContain('AIza-test-gemini');
    const r = parseConfig(text, { env });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect([...r.config.backends.keys()].sort()).toEqual(['anthropic', 'gemini', 'openai', 'simulated']);
    expect(r.config.backends.get('gemini')?.url).toBe('https://generativelanguage.googleapis.com');
  });

  it('adds Bedrock for a Bedrock API key, in AWS_REGION', () => {
    const env = { AWS_BEARER_TOKEN_BEDROCK: 'ABSK-test-bedrock', AWS_REGION: 'eu-west-3' };
    const text = defaultConfigYaml(opts, env);
    expect(text).not.toContain('ABSK-test-bedrock');
    const r = parseConfig(text, { env });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.config.backends.get('bedrock')?.url).toBe('https://bedrock-runtime.eu-west-3.amazonaws.com');
    expect(r.config.keys.get('bedrock')).toBe('ABSK-test-bedrock');
  });
});
