import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import OpenAI from 'openai';
import pino from 'pino';
import { MAX_CONFIG_BYTES } from '../../gateway/config/guard.js';
import { loadConfigFile } from '../../gateway/config/load.js';
import { backendDoc, docs, startGateway, type TestGateway } from './helpers.js';

export interface WatchedGateway extends TestGateway {
  dir: string;
  /** The watched config file. */
  file: string;
  /** An openai client on the gateway. */
  client: OpenAI;
  /** Everything logged so far (pino JSON lines). */
  logs(): string;
}

/** A gateway started from `text` written to a temporary file it watches (debounce 20 ms), its logs kept. */
export async function startWatchedGateway(text: string, prefix: string): Promise<WatchedGateway> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, text);
  const r = await loadConfigFile(file);
  if (!r.ok) throw new Error(`bad fixture: ${r.problems.map((p) => p.message).join('; ')}`);
  let logs = '';
  const logger = pino(
    { level: 'info' },
    textSink((t) => {
      logs += t;
    }),
  );
  const g = await startGateway(r.config, { logger });
  g.gw.watch(file, { debounceMs: 20 });
  return {
    ...g,
    dir,
    file,
    client: new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'k', maxRetries: 0 }),
    logs: () => logs,
    async close() {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One mapping of ~25k keys, just under the size bound and within every guard: the YAML parser is
 * quadratic in a mapping's keys and takes 2.5-7 s for it on the project's 2-CPU box.
 */
export function slowText(): string {
  const lines: string[] = [];
  for (let size = 0, i = 0; size + 12 < MAX_CONFIG_BYTES; i++) {
    lines.push(`k${i}: 1`);
    size += lines[i].length + 1;
  }
  return lines.join('\n');
}

/** Backend `up` (OpenAI at `upstream`, its key from UP_KEY) and one route serving the model `one`. */
export function oneRouteConfig(upstream: string): string {
  const route = `kind: Route
metadata: { name: main }
spec:
  rules:
    - matches: [{ model: one }]
      targets: [{ backend: up }]`;
  return docs(backendDoc('up', 'openai', upstream, '  apiKey: { env: UP_KEY }'), route);
}
