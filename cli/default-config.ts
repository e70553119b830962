/**
 * The configuration `tracegate start` uses when no `--config` is given: the built-in
 * `simulated` backend always (so a first run without any provider key shows the whole
 * pipeline), and a real provider for each key found in the environment.
 * `tracegate start --print-config` prints it, to copy and edit.
 */
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
  if (env.OPENAI_API_KEY) {
    docs.push(`kind: Backend
metadata: { name: openai }
spec:
  provider: openai
  url: "${env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'}"
  apiKey: { env: OPENAI_API_KEY }`);
    rules.push(`    - name: openai
      matches: [{ model: "gpt-*" }, { model: "o1*" }, { model: "o3*" }, { model: "o4*" }, { model: "chatgpt-*" }, { model: "text-embedding-*" }]
      targets: [{ backend: openai }]`);
  }
  if (env.ANTHROPIC_API_KEY) {
    docs.push(`kind: Backend
metadata: { name: anthropic }
spec:
  provider: anthropic
  url: "${env.ANTHROPIC_BASE_URL ?? 'https://api.anthropic.com'}"
  apiKey: { env: ANTHROPIC_API_KEY }`);
    rules.push(`    - name: anthropic
      matches: [{ model: "claude-*" }]
      targets: [{ backend: anthropic }]`);
  }
  docs.push(`kind: Route
metadata: { name: default }
spec:
  rules:
${rules.join('\n')}`);
  return docs.map((d) => `${HEADER}\n${d}\n`).join('---\n');
}
