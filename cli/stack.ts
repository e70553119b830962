/**
 * The whole stack in one process: the store (embedded by default), its migrations, the
 * collector (OTLP gRPC + HTTP, feedback, usage, health, metrics), the read-only ClickHouse
 * HTTP interface over the store, and the gateway exporting its spans to that collector.
 * Used by `tracegate start`, `tracegate demo` and the end-to-end test.
 */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import pino from 'pino';
import { buildCollector, type Collector } from '../collector/collector.js';
import { otlpResultSink } from '../collector/evaluators/emit.js';
import { buildEvaluatorWorker, type EvaluatorWorker } from '../collector/evaluators/worker.js';
import { parseCollectorConfig } from '../collector/config.js';
import { buildSqlInterface, type SqlInterface, type SqlLimitsInput } from '../sqlapi/index.js';
import { querySpend } from '../common/spend.js';
import { describeStore, openStore, type Store, type StoreTarget } from '../common/store.js';
import { loadConfigFile, parseConfig } from '../gateway/config/load.js';
import { watchConfigFile } from '../gateway/config/watch.js';
import { formatProblem, type ConfigResult } from '../gateway/config/model.js';
import { createSimulatedTransport } from '../gateway/providers/simulated.js';
import { buildGateway, keyPepperProblem, loggerOptions, type Gateway } from '../gateway/server.js';
import { otlpSpanProcessor } from '../gateway/telemetry/tracing.js';
import { DEFAULT_SCHEMA_SETTINGS, migrate } from '../schemas/migrate.js';
import { defaultConfigYaml } from './default-config.js';
import { checkExposure, gatewayUnauthenticated } from './exposure.js';

export interface StackOptions {
  target: StoreTarget;
  /** Gateway config file; none: the default config (simulated backend + providers with keys). */
  configFile?: string;
  host: string;
  ports: { gateway: number; grpc: number; http: number; sql: number };
  spoolDir?: string;
  logLevel?: string;
  /** Latency of the simulated backend; 0 in tests. */
  simulatedLatency?: { minMs: number; maxMs: number; perTokenMs: number };
  /** Credentials per surface; beyond loopback all three are required unless `insecure`. */
  auth?: StackAuth;
  insecure?: boolean;
  /** The SQL interface's limits (`--sql-max-*`); unset ones keep sqlapi/config.ts's defaults. */
  sqlLimits?: SqlLimitsInput;
}

export interface StackAuth {
  /** Every gateway /v1/* request must carry it (gateway/policy/master-key.ts). */
  masterKey?: string;
  /** How the banner's curl names the master key (`$TRACEGATE_MASTER_KEY`), never the key itself. */
  masterKeyRef?: string;
  /** The secret the configuration's ApiKey hashes were made with; required when it has any. */
  keyPepper?: string;
  /** Bearer token of the collector's data routes (OTLP gRPC and HTTP, feedback, usage). */
  collectorToken?: string;
  sqlUser?: string;
  sqlPassword?: string;
}

/** The surfaces `opts` leaves without authentication, with how to set each; `apiKeys`: ApiKey documents in the configuration. */
export function unauthenticated(auth: StackAuth = {}, apiKeys = 0): [string, string][] {
  const missing: [string, string][] = gatewayUnauthenticated(auth.masterKey, apiKeys, auth.keyPepper);
  if (!auth.collectorToken) missing.push(['the collector token', 'TRACEGATE_COLLECTOR_TOKEN or --collector-token-file']);
  if (!auth.sqlPassword) missing.push(['the SQL password', 'TRACEGATE_SQL_PASSWORD or --sql-password-file']);
  return missing;
}

export interface Stack {
  store: Store;
  gateway: Gateway;
  collector: Collector;
  sql: SqlInterface;
  urls: { gateway: string; otlpGrpc: string; otlpHttp: string; sql: string };
  configSource: string;
  /** How to name the master key in an example (`$TRACEGATE_MASTER_KEY`); undefined without one. */
  masterKeyRef?: string;
  /** ApiKey documents the gateway authenticates (0 with none). */
  apiKeys: number;
  /** Graceful: the gateway flushes its spans, the collector writes all it accepted, the store closes. Idempotent. */
  stop(): Promise<void>;
}

/** A failure a newcomer can act on: printed as one line, no stack trace. */
export class StackError extends Error {}

function spoolBeside(target: StoreTarget): string {
  if (target.kind !== 'embedded') return './.tracegate/spool';
  const dir = target.dataDir;
  return basename(dir) === 'data' ? join(dirname(dir), 'spool') : `${dir}-spool`;
}

function checkWritable(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new StackError(`the ${what} folder ${dir} cannot be written (${code}); choose another with --data DIR or fix its permissions`);
  }
}

function portInUse(err: unknown, what: string, port: number, flag: string): never {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE' || /EADDRINUSE|address already in use|in use/i.test(e.message ?? '')) {
    throw new StackError(`port ${port} (${what}) is in use: stop whatever listens there, or pick another port with ${flag}`);
  }
  if (e.code === 'EACCES') throw new StackError(`port ${port} (${what}) needs privileges: pick a port above 1024 with ${flag}`);
  throw err;
}

async function gatewayConfig(opts: StackOptions, otlpEndpoint: string): Promise<{ result: ConfigResult; source: string }> {
  if (opts.configFile) {
    if (!existsSync(opts.configFile)) throw new StackError(`the config file ${opts.configFile} does not exist`);
    return { result: await loadConfigFile(opts.configFile), source: opts.configFile };
  }
  const text = defaultConfigYaml({ host: opts.host, port: opts.ports.gateway, otlpEndpoint });
  return { result: parseConfig(text), source: 'the default configuration (tracegate start --print-config)' };
}

/**
 * Refuses (UsageError, exit code 2) a stack beyond loopback without its three secrets, unless
 * insecure; ApiKeys in the configuration (`apiKeys`) with their pepper stand for the master key.
 */
export function checkStackExposure(opts: StackOptions, apiKeys = 0): void {
  checkExposure({ hosts: [opts.host], missing: unauthenticated(opts.auth, apiKeys), insecure: opts.insecure ?? false });
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const auth = opts.auth ?? {};
  const logger = pino(loggerOptions(opts.logLevel ?? 'warn'));
  const { result, source } = await gatewayConfig(opts, `http://127.0.0.1:${opts.ports.grpc}`);
  if (!result.ok) {
    const lines = result.problems.map((p) => `  ${formatProblem(p)}`).join('\n');
    throw new StackError(`${source} has ${result.problems.length} problem(s):\n${lines}\nfix them (tracegate validate --config FILE) and start again`);
  }
  const pepperMissing = keyPepperProblem(result.config, auth.keyPepper);
  if (pepperMissing) throw new StackError(`${source}: ${pepperMissing}`);
  checkStackExposure(opts, result.config.apiKeys.size);
  const spoolDir = opts.spoolDir ?? spoolBeside(opts.target);
  if (opts.target.kind === 'embedded') checkWritable(opts.target.dataDir, 'store');
  checkWritable(spoolDir, 'spool');

  let store: Store;
  try {
    store = await openStore(opts.target);
    await migrate(store.client, { ...DEFAULT_SCHEMA_SETTINGS, database: opts.target.database });
  } catch (err) {
    if (err instanceof StackError) throw err;
    throw new StackError(`cannot open ${describeStore(opts.target)}: ${(err as Error).message.split('\n')[0]}`);
  }
  const stopped: Array<() => Promise<void>> = [async () => store.close()];
  const unwind = async () => {
    for (const stop of stopped.reverse()) await stop().catch(() => {});
  };
  let evaluators: EvaluatorWorker | undefined;
  try {
    const collector = buildCollector(
      parseCollectorConfig({
        grpc: { host: opts.host, port: opts.ports.grpc },
        http: { host: opts.host, port: opts.ports.http },
        spool: { dir: spoolDir },
        authToken: auth.collectorToken,
      }),
      { store, logger: logger.child({ component: 'collector' }), extraMetrics: () => evaluators?.metricsText() ?? '' },
    );
    const at = await collector.start().catch((err) => portInUse(err, 'collector', opts.ports.grpc, '--grpc-port / --http-port'));
    stopped.push(() => collector.shutdown());
    const { grpc: grpcAt, http: httpAt } = at;
    // `start` always runs both receivers: the gateway exports to the one, the CLI and SDKs use the other.
    if (!grpcAt || !httpAt) throw new Error('the collector started without its OTLP/gRPC or OTLP/HTTP receiver');
    const sql = buildSqlInterface({
      store,
      host: opts.host,
      port: opts.ports.sql,
      ...(auth.sqlUser ? { user: auth.sqlUser } : {}),
      password: auth.sqlPassword,
      ...opts.sqlLimits,
      markerDir: opts.target.kind === 'embedded' ? opts.target.dataDir : undefined,
      announce: true,
    });
    const sqlAt = await sql.listen().catch((err) => portInUse(err, 'SQL interface', opts.ports.sql, '--sql-port'));
    stopped.push(() => sql.close());
    const config = result.config;
    const grpcUrl = `http://${grpcAt.host === '0.0.0.0' ? '127.0.0.1' : grpcAt.host}:${grpcAt.port}`;
    // Under `start` the gateway always exports to the collector started beside it.
    const spans = otlpSpanProcessor(grpcUrl, auth.collectorToken);
    stopped.push(() => spans.shutdown());
    const gateway = buildGateway(config, {
      logger: logger.child({ component: 'gateway' }),
      spanProcessor: spans,
      simulated: createSimulatedTransport(opts.simulatedLatency ? { latency: opts.simulatedLatency } : {}),
      masterKey: auth.masterKey,
      keyPepper: auth.keyPepper,
      // Budgets are rebuilt from the spend this store has on record (at start, after Redis comes back empty).
      policy: { spend: (range) => querySpend(store.client, store.database, range) },
    });
    const gwUrl = await gateway.listen({ host: opts.host, port: opts.ports.gateway }).catch((err) => portInUse(err, 'gateway', opts.ports.gateway, '--port'));
    stopped.push(() => gateway.close());
    // Evaluators score stored spans through this gateway and write results through this collector.
    const worker = buildEvaluatorWorker({
      client: store.client,
      database: store.database,
      sink: otlpResultSink(grpcUrl, auth.collectorToken),
      gatewayUrl: `${gwUrl}/v1`,
      logger: logger.child({ component: 'evaluators' }),
    });
    worker.update(config.evaluators, config.evaluatorKeys);
    worker.start();
    evaluators = worker;
    stopped.push(() => worker.stop());
    if (opts.configFile) {
      // One watcher: a reload the gateway takes reaches the evaluators too.
      const watcher = watchConfigFile(opts.configFile, {
        onResult: (r) => {
          if (gateway.reload(r) && r.ok) worker.update(r.config.evaluators, r.config.evaluatorKeys);
        },
        onError: (err) => logger.error({ err: err.message, file: opts.configFile }, 'cannot watch the configuration file'),
      });
      stopped.push(async () => watcher.close());
    }
    let stopping: Promise<void> | undefined;
    return {
      store,
      gateway,
      collector,
      sql,
      configSource: source,
      masterKeyRef: auth.masterKey ? (auth.masterKeyRef ?? '$TRACEGATE_MASTER_KEY') : undefined,
      apiKeys: config.apiKeys.size,
      urls: { gateway: gwUrl, otlpGrpc: grpcUrl, otlpHttp: `http://${httpAt.host}:${httpAt.port}`, sql: sqlAt.url },
      stop() {
        stopping ??= unwind();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
