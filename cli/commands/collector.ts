/**
 * `tracegate collector`: the collector alone (OTLP receivers, pipeline, spool, exporter), with
 * the store's migrations applied first. Ctrl-C / SIGTERM shut it down gracefully.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { buildCollector } from '../../collector/collector.js';
import { parseCollectorConfig } from '../../collector/config.js';
import { describeStore, openStore, resolveStoreTarget } from '../../common/store.js';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../../schemas/migrate.js';
import { parse, STORE_OPTIONS, storeFlags, UsageError } from '../args.js';
import { checkExposure, secretFrom } from '../exposure.js';

const OPTIONS = {
  ...STORE_OPTIONS,
  config: { type: 'string' },
  'grpc-host': { type: 'string' },
  'grpc-port': { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  spool: { type: 'string' },
  'spool-max-mb': { type: 'string' },
  'log-level': { type: 'string' },
  'collector-token-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

function port(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number, got "${raw}"`);
  return n;
}

/** Config file (its `collector:` section or the whole file), then environment, then flags. */
export function collectorConfigFrom(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv) {
  const str = (k: string) => values[k] as string | undefined;
  let base: Record<string, unknown> = {};
  if (str('config')) {
    const doc = parseYaml(readFileSync(str('config')!, 'utf8')) as Record<string, unknown> | null;
    base = ((doc?.collector as Record<string, unknown>) ?? doc ?? {}) as Record<string, unknown>;
  }
  const section = (k: string) => ({ ...((base[k] as object) ?? {}) }) as Record<string, unknown>;
  const grpc = section('grpc');
  const http = section('http');
  const spool = section('spool');
  const set = (o: Record<string, unknown>, k: string, v: unknown) => v !== undefined && (o[k] = v);
  const host = env.TRACEGATE_COLLECTOR_HOST;
  set(grpc, 'host', str('grpc-host') ?? host);
  set(grpc, 'port', port(str('grpc-port') ?? env.TRACEGATE_OTLP_GRPC_PORT, '--grpc-port'));
  set(http, 'host', str('http-host') ?? host);
  set(http, 'port', port(str('http-port') ?? env.TRACEGATE_OTLP_HTTP_PORT, '--http-port'));
  set(spool, 'dir', str('spool') ?? env.TRACEGATE_SPOOL_DIR);
  const mb = str('spool-max-mb') ?? env.TRACEGATE_SPOOL_MAX_MB;
  if (mb !== undefined) {
    if (!/^\d+$/.test(mb)) throw new UsageError(`--spool-max-mb must be a whole number, got "${mb}"`);
    spool.maxBytes = Number(mb) * 1024 * 1024;
  }
  const raw = { ...base, grpc, http, spool } as Record<string, unknown>;
  const token = secretFrom(str('collector-token-file'), 'TRACEGATE_COLLECTOR_TOKEN', env, '--collector-token-file');
  if (token) raw.authToken = token;
  const config = parseCollectorConfig(raw);
  checkExposure({
    hosts: [config.grpc.host, config.http.host],
    missing: config.authToken ? [] : [['the collector token', 'TRACEGATE_COLLECTOR_TOKEN or --collector-token-file']],
    insecure: values.insecure === true,
  });
  return config;
}

export async function runCollector(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS);
  const config = collectorConfigFrom(values, process.env);
  const target = resolveStoreTarget(storeFlags(values));
  const store = await openStore(target);
  try {
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: target.database });
    const collector = buildCollector(config, { store, logLevel: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });
    const at = await collector.start();
    process.stdout.write(
      `tracegate collector: ${describeStore(target)}\n` +
        (at.grpc ? `  OTLP/gRPC  ${at.grpc.host}:${at.grpc.port}\n` : '') +
        (at.http ? `  OTLP/HTTP  http://${at.http.host}:${at.http.port}/v1/traces (also /v1/feedback, /healthz, /readyz, /metrics)\n` : ''),
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.stdout.write('tracegate collector: shutting down, writing what was accepted…\n');
    await collector.shutdown();
    return 0;
  } finally {
    await store.close();
  }
}
