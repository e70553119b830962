/**
 * buildGateway(config, deps): the data plane as a Fastify app plus its lifecycle. Nothing starts
 * on import; `listen()` binds, `close()` stops accepting, waits for calls in flight, flushes spans.
 */
import type { TracerProvider } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Dispatcher } from 'undici';
import { formatProblem, type ConfigResult, type GatewayConfig } from './config/model.js';
import { SECRET_HEADERS } from './config/schema.js';
import { watchConfigFile, type ConfigWatcher } from './config/watch.js';
import { errorBody, GatewayError, openaiEnvelope, retryAfterSeconds } from './errors.js';
import { callHandler, type LiveState } from './handlers/call.js';
import { Breakers } from './reliability/breaker.js';
import { buildRouter } from './routing/match.js';
import { buildMetrics, type GatewayMetrics } from './telemetry/metrics.js';
import { buildTracing } from './telemetry/tracing.js';
import { Upstreams, type Transport } from './upstream.js';

export interface GatewayDeps {
  /** A pino logger; default: pino at `logLevel` with credentials redacted. */
  logger?: FastifyBaseLogger;
  logLevel?: string;
  /**
   * Spans go to this processor (`tracegate gateway` passes the OTLP processor it also gives
   * @opentelemetry/sdk-node); default: one of our own exporting over OTLP gRPC as the config says.
   */
  spanProcessor?: SpanProcessor;
  /** Spans are re-created through this provider's tracer instead (an embedding application's SDK). */
  tracerProvider?: TracerProvider;
  /** With no tracerProvider: export to this exporter instead of OTLP (tests). */
  spanExporter?: SpanExporter;
  /** With spanExporter: export each span as it ends (tests). */
  simpleSpanProcessor?: boolean;
  /** Replaces the per-backend undici pools. */
  dispatcher?: Dispatcher;
  /** The built-in responder behind `provider: simulated` backends. */
  simulated?: Transport;
  /** Wall clock in ms (circuit breaker cool-downs, translators' timestamps). */
  clock?: () => number;
  random?: () => number;
}

export interface Gateway {
  readonly app: FastifyInstance;
  /** The config serving now. */
  readonly config: GatewayConfig;
  readonly breakers: Breakers;
  readonly metrics: GatewayMetrics;
  /** Binds (default: the config's listen address); resolves to the base URL. */
  listen(opts?: { host?: string; port?: number }): Promise<string>;
  /** Swaps in a new, already validated config. */
  apply(config: GatewayConfig): void;
  /** Applies a load result: a valid config is swapped in, problems are logged and refused. Returns whether it applied. */
  reload(result: ConfigResult): boolean;
  /** Watches a config file and reloads on change. Stopped by close(). */
  watch(file: string, opts?: { debounceMs?: number; env?: NodeJS.ProcessEnv }): ConfigWatcher;
  /** Flushes pending spans (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** pino redaction paths: credentials never reach a log line. */
export const REDACT_PATHS = SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `headers["${h}"]`, `request.headers["${h}"]`]);

export function loggerOptions(level = 'info') {
  return { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
}

function fastifyErrorToGateway(err: FastifyError): GatewayError {
  if (err instanceof GatewayError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('body_too_large', 'the request body is larger than the gateway accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('unsupported_media_type', 'send the request body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new GatewayError('invalid_json', 'the request body is not valid JSON');
    default:
      return err.statusCode && err.statusCode < 500
        ? new GatewayError('invalid_parameter', err.message)
        : new GatewayError('internal_error', 'the gateway failed to handle this request');
  }
}

export function buildGateway(initial: GatewayConfig, deps: GatewayDeps = {}): Gateway {
  const clock = deps.clock ?? Date.now;
  const random = deps.random ?? Math.random;
  const gw = initial.gateway;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(deps.logLevel) }),
    logController: new LogController({ disableRequestLogging: true }),
    // No pino child per request (it showed in profiles): request logs are errors only, and those
    // name the request id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: gw.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const log = app.log.child({ component: 'gateway' });
  const breakers = new Breakers(clock, (backend, state) => log.warn({ backend, state }, `circuit ${state === 'open' ? 'opened' : state === 'closed' ? 'closed' : 'half-open'} for backend ${backend}`));
  const upstreams = new Upstreams({ dispatcher: deps.dispatcher, simulated: deps.simulated });
  const tracing = buildTracing({
    serviceName: gw.telemetry.serviceName,
    otlpEndpoint: gw.telemetry.otlpEndpoint,
    spanProcessor: deps.spanProcessor,
    tracerProvider: deps.tracerProvider,
    exporter: deps.spanExporter,
    simple: deps.simpleSpanProcessor,
  });
  const metrics = buildMetrics(() => breakers.entries(), tracing.exportStats);

  const stateFor = (config: GatewayConfig): LiveState => ({
    config,
    router: buildRouter(config),
    telemetry: {
      tracer: tracing.tracer,
      metrics,
      capture: Object.freeze({ mode: config.gateway.telemetry.content.capture, maxBytes: config.gateway.telemetry.content.maxBytes }),
      headers: config.gateway.headers,
    },
  });
  let live = stateFor(initial);
  breakers.sync(initial.backends.values());
  upstreams.sync(initial.backends.values());
  const watchers: ConfigWatcher[] = [];

  // JSON only: anything else is a 415 that says what to send.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    req.rawBody = text;
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GatewayError('invalid_json', 'the request body is not valid JSON'), undefined);
    }
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = fastifyErrorToGateway(err);
    if (e.code === 'internal_error') req.log.error({ err, reqId: req.id }, 'unhandled error');
    const path = req.url.split('?', 1)[0];
    metrics.recordRefused(path, e.status);
    if (e.opts.retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(e.opts.retryAfterMs));
    void reply.code(e.status).send(errorBody(e, path === '/v1/messages' ? 'anthropic' : 'openai'));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new GatewayError('not_found', `no endpoint ${req.method} ${req.url.split('?', 1)[0]}; see GET /v1/models and POST /v1/chat/completions`);
    void reply.code(e.status).send(openaiEnvelope(e));
  });

  const callDeps = { live: () => live, breakers, upstreams, random, nowMs: clock };
  app.post('/v1/chat/completions', callHandler('chat', callDeps));
  app.post('/v1/embeddings', callHandler('embeddings', callDeps));
  app.post('/v1/responses', callHandler('responses', callDeps));
  app.post('/v1/messages', callHandler('messages', callDeps));
  app.get('/v1/models', async () => ({
    object: 'list',
    data: live.router.models().map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.route })),
  }));
  app.get('/metrics', async (_req, reply) => reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await metrics.scrape()));
  app.get('/healthz', async () => ({ status: 'ok' }));

  const apply = (config: GatewayConfig) => {
    breakers.sync(config.backends.values());
    upstreams.sync(config.backends.values());
    live = stateFor(config);
  };

  const gateway: Gateway = {
    app,
    get config() {
      return live.config;
    },
    breakers,
    metrics,
    async listen(opts = {}) {
      return app.listen({ host: opts.host ?? live.config.gateway.listen.host, port: opts.port ?? live.config.gateway.listen.port });
    },
    apply,
    reload(result) {
      metrics.recordReload(result.ok);
      if (!result.ok) {
        for (const p of result.problems) log.error({ path: p.path, line: p.line }, `config refused: ${formatProblem(p)}`);
        log.error({ problems: result.problems.length }, 'the new configuration is invalid; the last good one keeps serving');
        return false;
      }
      apply(result.config);
      log.info({ source: result.config.source, routes: result.config.routes.length, backends: result.config.backends.size }, 'configuration reloaded');
      return true;
    },
    watch(file, opts = {}) {
      const w = watchConfigFile(file, {
        debounceMs: opts.debounceMs,
        env: opts.env,
        onResult: (r) => gateway.reload(r),
        onError: (err) => log.error({ err: err.message, file }, 'cannot watch the configuration file'),
      });
      watchers.push(w);
      return w;
    },
    flush: () => tracing.forceFlush(),
    async close() {
      for (const w of watchers.splice(0)) w.close();
      await app.close();
      await upstreams.close();
      await tracing.shutdown();
      await metrics.shutdown();
    },
  };
  return gateway;
}
