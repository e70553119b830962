import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parseConfig } from '../../gateway/config/load.js';
import type { GatewayConfig } from '../../gateway/config/model.js';
import { buildGateway, type Gateway, type GatewayDeps } from '../../gateway/server.js';

export const HEADER = 'apiVersion: tracegate.dev/v1alpha1';

/** YAML documents joined into one file. */
export const docs = (...parts: string[]) => parts.map((p) => `${HEADER}\n${p.trim()}\n`).join('---\n');

export function backendDoc(name: string, provider: string, url: string, extra = ''): string {
  return `kind: Backend\nmetadata: { name: ${name} }\nspec:\n  provider: ${provider}\n  url: "${url}"\n${extra}`;
}

/** Parses config text or fails the test with every problem. */
export function config(text: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const r = parseConfig(text, { env });
  if (!r.ok) throw new Error(`config problems:\n${r.problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
  return r.config;
}

export interface TestGateway {
  gw: Gateway;
  /** `http://127.0.0.1:PORT` */
  url: string;
  exporter: InMemorySpanExporter;
  /** Finished spans, after a flush. */
  spans(): Promise<ReadableSpan[]>;
  /** Call spans (the ones with openinference.span.kind). */
  calls(): Promise<ReadableSpan[]>;
  close(): Promise<void>;
}

/** A gateway on a free port, spans kept in memory, logs off. */
export async function startGateway(cfg: GatewayConfig, deps: GatewayDeps = {}): Promise<TestGateway> {
  const exporter = new InMemorySpanExporter();
  const gw = buildGateway(cfg, { spanExporter: exporter, simpleSpanProcessor: true, logLevel: 'silent', ...deps });
  const url = await gw.listen({ host: '127.0.0.1', port: 0 });
  const spans = async () => {
    await gw.flush();
    return exporter.getFinishedSpans();
  };
  return {
    gw,
    url,
    exporter,
    spans,
    calls: async () => (await spans()).filter((s) => s.attributes['openinference.span.kind'] !== undefined),
    close: () => gw.close(),
  };
}

/** Polls until `check` returns a value (spans end just after the answer is sent). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
