import type { ContextManager } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { querySpend, type SpendRange } from '../../common/spend.js';
import { openStore, resolveStoreTarget } from '../../common/store.js';
import { loadConfigFile } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import { gatewayResource, otlpSpanProcessor, SPAN_LIMITS } from '../../gateway/telemetry/tracing.js';
import { buildGateway, keyPepperProblem } from '../../gateway/server.js';
import { parse, UsageError } from '../args.js';
import { authenticationLine, checkExposure, gatewayUnauthenticated, keyPepperFrom, secretFrom } from '../exposure.js';
import { tuneHeapForServing } from '../heap.js';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
  port: { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
  'master-key-file': { type: 'string' },
  'key-pepper-file': { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

/**
 * Process-level tracing through @opentelemetry/sdk-node, around one span processor: the OTLP gRPC
 * one (the official gRPC export delegate of @opentelemetry/exporter-trace-otlp-grpc with our
 * encoder), which the gateway also writes its own spans into. No metric or log exporters (sdk-node
 * would otherwise start them toward localhost:4318), and no context manager (the gateway passes
 * parents explicitly; async hooks would cost every request).
 */
export function startNodeSdk(serviceName: string, processor: SpanProcessor | undefined): NodeSDK {
  const sdk = new NodeSDK({
    resource: gatewayResource(serviceName),
    autoDetectResources: false,
    spanProcessors: processor ? [processor] : [],
    spanLimits: SPAN_LIMITS,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // sdk-node reads null as "register none"; its types do not say so yet.
    contextManager: null as unknown as ContextManager,
    textMapPropagator: null,
  });
  sdk.start();
  return sdk;
}

/** `tracegate gateway --config FILE`: the data plane alone, with hot reload. Ctrl-C stops it cleanly. */
export async function runGateway(args: string[]): Promise<number> {
  const { values } = parse(args, OPTIONS);
  if (!values.config) throw new UsageError('give the file: tracegate gateway --config gateway.yaml');
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError('--port must be a port number');
  const r = await loadConfigFile(values.config);
  if (!r.ok) {
    for (const p of r.problems) process.stderr.write(`${formatProblem(p)}\n`);
    throw new Error(`${values.config} has ${r.problems.length} problem(s); fix them (tracegate validate --config ${values.config}) and start again`);
  }
  const masterKey = secretFrom(values['master-key-file'], 'TRACEGATE_MASTER_KEY', process.env, '--master-key-file');
  const keyPepper = keyPepperFrom(values['key-pepper-file'], process.env);
  const pepperMissing = keyPepperProblem(r.config, keyPepper);
  if (pepperMissing) throw new UsageError(`${values.config}: ${pepperMissing}`);
  checkExposure({
    hosts: [values.host ?? r.config.gateway.listen.host],
    missing: gatewayUnauthenticated(masterKey, r.config.apiKeys.size, keyPepper),
    insecure: values.insecure === true,
  });
  tuneHeapForServing();
  const telemetry = r.config.gateway.telemetry;
  const processor = telemetry.otlpEndpoint ? otlpSpanProcessor(telemetry.otlpEndpoint) : undefined;
  const sdk = startNodeSdk(telemetry.serviceName, processor);
  // With CLICKHOUSE_URL, budgets are rebuilt from the spend that store has on record; without, they start from zero.
  const store = process.env.CLICKHOUSE_URL ? await openStore(resolveStoreTarget({}, process.env)) : undefined;
  const spend = store && ((range: SpendRange) => querySpend(store.client, store.database, range));
  const gw = buildGateway(r.config, { spanProcessor: processor, logLevel: values['log-level'], masterKey, keyPepper, policy: { spend } });
  let url: string;
  try {
    url = await gw.listen({ host: values.host, port });
  } catch (err) {
    await gw.close();
    await store?.close();
    await sdk.shutdown();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`the gateway's port is in use (${e.message.replace(/^.*EADDRINUSE: /, '')}); pick another with --port`);
    throw err;
  }
  gw.watch(values.config);
  process.stdout.write(
    `tracegate gateway listening on ${url} (OpenAI API at ${url}/v1, metrics at ${url}/metrics); watching ${values.config}\n${authenticationLine(r.config.apiKeys.size, masterKey !== undefined)}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await gw.close();
  await store?.close();
  await sdk.shutdown();
  return 0;
}
