/**
 * The configuration `tracegate start` uses when no `--config` is given: the built-in
 * `simulated` backend always (so a first run without any provider key shows the whole
 * pipeline), and a real provider for each key found in the environment.
 * `tracegate start --print-config` prints it, to copy and edit.
 */
import { ANTHROPIC_PUBLIC_URL } from '../gateway/providers/anthropic/descriptor.js';
import { OPENAI_PUBLIC_URL } from '../gateway/providers/openai/descriptor.js';

const HEADER = 'apiVersion: tracegate.dev/v1alpha1';

export interface DefaultConfigOptions {
  host: string;
  port: number;
  otlpEndpoint: string;
}

export function defaultConfigYaml(opts: DefaultConfigOptions, env: NodeJS.ProcessEnv = process.env): string {
  const docs: string[] = [
    `kind: Gateway
metadata: { name: tracegate }
spec:
  listen: { host: "${opts.host}", port: ${opts.port} }
  telemetry:
    serviceName: tracegate-gateway
    otlpEndpoint: "${opts.otlpEndpoint}"
    content: { capture: on, maxBytes: 16kb }`,
    `# tracegate's built-in OpenAI-compatible responder: deterministic text, tool calls,
# JSON output, streaming, realistic usage and latency. No key, no network.
kind: Backend
metadata: { name: simulated }
spec:
  provider: simulated`,
  ];
  const rules: string[] = [
    `    - name: simulated
      matches: [{ model: "tracegate-sim-*" }]
      targets: [{ backend: simulated }]`,
  ];
  const provider = (name: string, kind: string, url: string, keyVar: string, models: string[]) => {
    docs.push(`kind: Backend
metadata: { name: ${name} }
spec:
  provider: ${kind}
  url: "${url}"
  apiKey: { env: ${keyVar} }`);
    rules.push(`    - name: ${name}
      matches: [${models.map((m) => `{ model: "${m}" }`).join(', ')}]
      targets: [{ backend: ${name} }]`);
  };
  if (env.OPENAI_API_KEY) {
    provider('openai', 'openai', env.OPENAI_BASE_URL ?? OPENAI_PUBLIC_URL, 'OPENAI_API_KEY', ['gpt-*', 'o1*', 'o3*', 'o4*', 'chatgpt-*', 'text-embedding-*']);
  }
  if (env.ANTHROPIC_API_KEY) {
    provider('anthropic', 'anthropic', env.ANTHROPIC_BASE_URL ?? ANTHROPIC_PUBLIC_URL, 'ANTHROPIC_API_KEY', ['claude-*']);
  }
  if (env.GEMINI_API_KEY) {
    // Also Google's Gen AI SDK clients, at /v1beta/models/{model}:generateContent.
    provider('gemini', 'gemini', env.GEMINI_BASE_URL ?? 'https://generativelanguage.googleapis.com', 'GEMINI_API_KEY', ['gemini-*', 'gemma-*']);
  }
  if (env.AWS_BEARER_TOKEN_BEDROCK) {
    // A Bedrock API key (the variable AWS's own SDKs read); model ids and inference profiles as Bedrock names them.
    docs.push(`kind: Backend
metadata: { name: bedrock }
spec:
  provider: bedrock
  region: ${env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1'}
  apiKey: { env: AWS_BEARER_TOKEN_BEDROCK }`);
    const ids = ['anthropic.*', 'amazon.*', 'meta.*', 'mistral.*', 'us.*', 'eu.*', 'apac.*', 'global.*'];
    rules.push(`    - name: bedrock
      matches: [${ids.map((m) => `{ model: "${m}" }`).join(', ')}]
      targets: [{ backend: bedrock }]`);
  }
  docs.push(`kind: Route
metadata: { name: default }
spec:
  rules:
${rules.join('\n')}`);
  return docs.map((d) => `${HEADER}\n${d}\n`).join('---\n');
}
