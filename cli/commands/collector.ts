/**
 * `tracegate collector`: the collector alone (OTLP receivers, pipeline, spool, exporter), with
 * the store's migrations applied first. Ctrl-C / SIGTERM shut it down gracefully.
 *
 * With `--evaluators FILE --gateway URL` it also runs the online evaluators (as `tracegate start`
 * does): the Evaluator documents and their judge keys come from FILE (a gateway configuration,
 * watched and reloaded like the gateway's), judges are called through the gateway at URL, and
 * results are written through this collector. Without `--evaluators` no evaluator runs.
 */
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { buildCollector } from '../../collector/collector.js';
import { parseCollectorConfig } from '../../collector/config.js';
import { otlpResultSink } from '../../collector/evaluators/emit.js';
import { buildEvaluatorWorker, type EvaluatorWorker } from '../../collector/evaluators/worker.js';
import { loadConfigFile } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import { watchConfigFile } from '../../gateway/config/watch.js';
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
  evaluators: { type: 'string' },
  gateway: { type: 'string' },
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
  const file = str('config');
  if (file) {
    const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
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

/** `--evaluators FILE` needs `--gateway URL` (where the judges are called), and the reverse. */
export function evaluatorFlags(values: Record<string, string | boolean | undefined>): { file: string; gatewayUrl: string } | undefined {
  const file = values.evaluators as string | undefined;
  const gateway = values.gateway as string | undefined;
  if (!file && !gateway) return undefined;
  if (!file) throw new UsageError('--gateway is where judges are called: give the Evaluator documents too, --evaluators FILE');
  if (!gateway) throw new UsageError('--evaluators needs the gateway the judges are called through: --gateway http://HOST:PORT/v1');
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new UsageError(`--gateway must be a URL such as http://127.0.0.1:8080/v1, got "${gateway}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--gateway must be an http(s) URL, got "${gateway}"`);
  return { file, gatewayUrl: gateway.replace(/\/+$/, '') };
}

export async function runCollector(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS);
  const config = collectorConfigFrom(values, process.env);
  const evaluatorsAt = evaluatorFlags(values);
  const initial = evaluatorsAt ? await loadConfigFile(evaluatorsAt.file) : undefined;
  if (evaluatorsAt && initial && !initial.ok) throw new UsageError(`${evaluatorsAt.file} has problems:\n${initial.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
  const target = resolveStoreTarget(storeFlags(values));
  const store = await openStore(target);
  const level = (values['log-level'] as string | undefined) ?? process.env.LOG_LEVEL ?? 'info';
  const stops: Array<() => Promise<void>> = [];
  try {
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: target.database });
    let worker: EvaluatorWorker | undefined;
    let evaluatorsLine = '';
    const collector = buildCollector(config, { store, logLevel: level, extraMetrics: () => worker?.metricsText() ?? '' });
    const at = await collector.start();
    stops.push(() => collector.shutdown());
    if (evaluatorsAt && initial?.ok) {
      if (!at.grpc) throw new UsageError("the evaluators write their results through the collector's OTLP/gRPC receiver: do not disable it");
      const grpc = `http://${at.grpc.host === '0.0.0.0' ? '127.0.0.1' : at.grpc.host}:${at.grpc.port}`;
      const logger = pino({ level, base: { component: 'evaluators' } });
      const w = buildEvaluatorWorker({
        client: store.client,
        database: store.database,
        sink: otlpResultSink(grpc, config.authToken),
        gatewayUrl: evaluatorsAt.gatewayUrl,
        logger,
      });
      w.update(initial.config.evaluators, initial.config.evaluatorKeys);
      w.start();
      worker = w;
      evaluatorsLine = `  evaluators ${initial.config.evaluators.size} from ${evaluatorsAt.file}, judges via ${evaluatorsAt.gatewayUrl}\n`;
      stops.unshift(() => w.stop());
      const watcher = watchConfigFile(evaluatorsAt.file, {
        onResult: (r) => {
          if (r.ok) w.update(r.config.evaluators, r.config.evaluatorKeys);
          else logger.error({ file: evaluatorsAt.file, problems: r.problems.map(formatProblem) }, 'the evaluators keep their last good configuration');
        },
        onError: (err) => logger.error({ err: err.message, file: evaluatorsAt.file }, 'cannot watch the evaluators file'),
      });
      stops.unshift(async () => watcher.close());
    }
    process.stdout.write(
      `tracegate collector: ${describeStore(target)}\n` +
        (at.grpc ? `  OTLP/gRPC  ${at.grpc.host}:${at.grpc.port}\n` : '') +
        (at.http ? `  OTLP/HTTP  http://${at.http.host}:${at.http.port}/v1/traces (also /v1/feedback, /healthz, /readyz, /metrics)\n` : '') +
        evaluatorsLine,
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    process.stdout.write('tracegate collector: shutting down, writing what was accepted…\n');
    return 0;
  } finally {
    for (const stop of stops) await stop().catch(() => {});
    await store.close();
  }
}
