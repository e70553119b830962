/**
 * `buildCollector(config, deps)`: the OTLP receivers, the pipeline, the spool and the exporter,
 * plus feedback, health and metrics on the HTTP port. Nothing starts until `start()`; the
 * Fastify app is exposed before that so other components (usage API, the read-only SQL
 * interface) can add routes on the same port. The store belongs to the caller.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Store } from '../common/store.js';
import type { CollectorConfig } from './config.js';
import { clickhouseSink, type TraceSink } from './exporters/clickhouse.js';
import { startExporter, type Exporter } from './exporters/exporter.js';
import { Spool } from './exporters/spool.js';
import { registerFeedbackRoute } from './feedback.js';
import { buildPipeline, type Pipeline } from './pipeline.js';
import type { ProcessorDeps } from './processors/index.js';
import { buildGrpcReceiver, type GrpcReceiver } from './receivers/grpc.js';
import { otlpHttpReceiver } from './receivers/http.js';
import { exportHandler, type ExportHandler } from './receivers/otlp.js';
import { registerHealthRoutes } from './routes.js';
import { registerUsageRoute } from './usage.js';
import { flattenCounters, newMetrics, renderPrometheus, type CollectorMetrics, type Gauges } from './telemetry/metrics.js';
import { startStatsWriter, type StatsWriter } from './telemetry/stats.js';

export interface CollectorDeps {
  store: Store;
  /** A logger to share (e.g. the gateway's when both run in one process). */
  logger?: FastifyBaseLogger;
  /** Log level for a logger of the collector's own; false for none. Ignored with `logger`. */
  logLevel?: string | false;
  processor?: ProcessorDeps;
  /** Wall clock in ms (stats rows, feedback timestamps). */
  now?: () => number;
  /** More Prometheus text for /metrics (the evaluator worker's counters), read at scrape time. */
  extraMetrics?: () => string;
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface Collector {
  /** The HTTP app: add routes before `start()`. */
  readonly app: FastifyInstance;
  readonly metrics: CollectorMetrics;
  start(): Promise<{ grpc?: Endpoint; http?: Endpoint }>;
  /** Resolves once every accepted span is in ClickHouse (or the timeout passes: false). */
  idle(timeoutMs?: number): Promise<boolean>;
  /** Stops taking data, exports what it accepted (the rest stays in the spool). Idempotent. */
  shutdown(): Promise<void>;
}

interface Running {
  spool: Spool;
  pipeline: Pipeline;
  exporter: Exporter;
  stats: StatsWriter;
  grpc?: GrpcReceiver;
  handler: ExportHandler;
  counters: () => object;
}

export function buildCollector(config: Readonly<CollectorConfig>, deps: CollectorDeps): Collector {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: deps.logLevel === false ? false : { level: deps.logLevel ?? 'info', redact: ['req.headers.authorization'] } }),
    bodyLimit: 1024 * 1024,
  });
  const logger = app.log.child({ component: 'collector' });
  const metrics = newMetrics();
  let running: Running | undefined;
  let accepting = false;
  let stopped: Promise<void> | undefined;

  const gauges = (): Gauges => ({
    queueSpans: running?.spool.rows ?? 0,
    queueBatches: running?.spool.pendingSegments ?? 0,
    spoolBytes: running?.spool.bytes ?? 0,
    spoolLimitBytes: config.spool.maxBytes,
    extra: running ? flattenCounters(running.counters()) : {},
  });
  const handler: ExportHandler = async (body, encoding) => {
    if (!running) throw new Error('the collector is not started');
    return running.handler(body, encoding);
  };

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    const message = status >= 500 ? 'internal error in the collector' : err.message;
    return reply.code(status).send({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: status } });
  });
  void app.register(otlpHttpReceiver, { maxRequestBytes: config.maxRequestBytes, authToken: config.authToken, handler, metrics });
  registerFeedbackRoute(app, { store: deps.store, authToken: config.authToken, now: deps.now });
  registerUsageRoute(app, { store: deps.store, authToken: config.authToken, now: deps.now });
  registerHealthRoutes(app, {
    notReady: () => (!running ? 'not started' : !accepting ? 'shutting down' : running.spool.full ? 'the spool is full (ClickHouse is not keeping up or is down)' : undefined),
    clickhouseOk: () => running?.exporter.healthy ?? false,
    metricsText: () => renderPrometheus(metrics, gauges()) + (deps.extraMetrics?.() ?? ''),
  });

  function startPipeline(): Running {
    const spool = new Spool({
      dir: resolve(config.spool.dir),
      maxBytes: config.spool.maxBytes,
      batchRows: config.batch.sendBatchSize,
      maxBatchRows: config.batch.sendBatchMaxSize || Infinity,
      batchBytes: config.batch.maxBatchBytes,
      timeoutMs: config.batch.timeoutMs,
      fsync: config.spool.fsync,
    });
    if (spool.rows > 0) logger.info({ spans: spool.rows, bytes: spool.bytes }, 'replaying spans left in the spool');
    const pipeline = buildPipeline(
      config.processor,
      { workers: config.pipeline.workers, maxQueueBytes: config.pipeline.maxQueueBytes, retryAfterSeconds: config.retryAfterSeconds },
      { spool, processor: deps.processor },
    );
    const sink: TraceSink = clickhouseSink(deps.store, config.table);
    const exporter = startExporter(config.retry, { spool, sink, metrics, logger });
    const stats = startStatsWriter(
      { intervalMs: config.stats.intervalMs, instance: config.stats.instance ?? `${hostname()}:${process.pid}` },
      { store: deps.store, metrics, gauges, logger, now: deps.now },
    );
    const h = exportHandler({ pipeline, metrics, retryAfterSeconds: config.retryAfterSeconds, accepting: () => accepting, logger });
    return { spool, pipeline, exporter, stats, handler: h, counters: () => pipeline.counters() };
  }

  return {
    app,
    metrics,
    async start() {
      if (running) throw new Error('the collector is already started');
      running = startPipeline();
      try {
        await running.pipeline.ready();
      } catch (err) {
        const r = running;
        running = undefined;
        await r.exporter.stop(0);
        await r.stats.stop();
        throw err;
      }
      const out: { grpc?: Endpoint; http?: Endpoint } = {};
      if (config.grpc.enabled) {
        running.grpc = buildGrpcReceiver({ host: config.grpc.host, port: config.grpc.port, maxRequestBytes: config.maxRequestBytes, authToken: config.authToken }, { handler, metrics, logger });
        out.grpc = await running.grpc.start();
      }
      if (config.http.enabled) {
        await app.listen({ host: config.http.host, port: config.http.port });
        const addr = app.server.address();
        out.http = { host: config.http.host, port: typeof addr === 'object' && addr ? addr.port : config.http.port };
      } else {
        await app.ready();
      }
      accepting = true;
      return out;
    },
    async idle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (running && running.spool.rows > 0) {
        if (Date.now() > deadline) return false;
        running.spool.flush();
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    },
    shutdown() {
      stopped ??= (async () => {
        accepting = false;
        metrics.eventLoop.stop();
        const r = running;
        await r?.grpc?.shutdown(Math.max(1000, config.shutdownTimeoutMs / 2));
        await app.close();
        if (!r) return;
        await r.pipeline.close();
        await r.exporter.stop(config.shutdownTimeoutMs);
        await r.stats.stop();
        if (r.spool.rows > 0) logger.warn({ spans: r.spool.rows }, 'shutting down with spans still in the spool; they are exported at the next start');
      })();
      return stopped;
    },
  };
}
