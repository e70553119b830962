/**
 * buildGateway(config, deps): the data plane as a Fastify app plus its lifecycle. Nothing starts
 * on import; `listen()` binds, `close()` stops accepting, waits for calls in flight, flushes spans.
 */
import type { TracerProvider } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { formatProblem, type ConfigResult, type GatewayConfig } from './config/model.js';
import { SECRET_HEADERS } from './config/schema.js';
import { watchConfigFile, type ConfigWatcher } from './config/watch.js';
import { clientApiOfPath, errorBody, GatewayError, retryAfterSeconds } from './errors.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './handlers/body.js';
import { callHandler, type LiveState } from './handlers/call.js';
import { generateHandler } from './handlers/generate.js';
import { clientErrorHandler, fastifyErrorToGateway, notFound } from './handlers/framework.js';
import { jsonThreads, LARGE_JSON_CHARS } from './json-threads.js';
import { Breakers } from './reliability/breaker.js';
import { buildAuthMetrics } from './policy/auth-metrics.js';
import { Authenticator, installAuthentication } from './policy/authenticate.js';
import { modelAllowed, routeAllowed } from './policy/authorize.js';
import { buildPolicy, type PolicyDeps } from './policy/build.js';
import type { Policy } from './policy/limits.js';
import { KeyIndex, pepperProblem } from './policy/keys.js';
import { buildRouter } from './routing/match.js';
import { contain, type InternalComponent } from './telemetry/contain.js';
import { buildMetrics, type GatewayMetrics } from './telemetry/metrics.js';
import { buildTracing } from './telemetry/tracing.js';
import { AgentSessions } from './telemetry/agent-sessions.js';
import { McpGateway } from './mcp/parts.js';
import { warmTokenizer } from './tokenizer.js';
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
  /** Nesting levels a JSON body may have (default MAX_JSON_DEPTH, 64). */
  maxJsonDepth?: number;
  /** How long a client may take to send a whole request, headers and body (default 60 s; 408 after). */
  requestTimeoutMs?: number;
  /** Admin credential every /v1/* route accepts besides the ApiKeys (policy/master-key.ts). */
  masterKey?: string;
  /** The secret the ApiKeys' hashes were made with (policy/keys.ts); required when the config has an ApiKey. */
  keyPepper?: string;
  /**
   * Limits and budgets: where the Redis URL's secret is read from (default process.env), where
   * spend ledgers are rebuilt from (`tracegate start` passes its store), the price table.
   */
  policy?: Pick<PolicyDeps, 'env' | 'spend' | 'prices'>;
}

/** Why `config` cannot serve with this pepper, or undefined: one line, for start-up and reload alike. */
export function keyPepperProblem(config: GatewayConfig, pepper: string | undefined): string | undefined {
  if (config.apiKeys.size === 0) return undefined;
  if (pepper === undefined) return `the configuration has ${config.apiKeys.size} ApiKey(s) but no key pepper: set TRACEGATE_KEY_PEPPER or --key-pepper-file (the secret their hashes were made with)`;
  return pepperProblem(pepper);
}

/** Default for `requestTimeoutMs`: Fastify's own default is none, so a body that never ends held its socket for ever. */
export const REQUEST_TIMEOUT_MS = 60_000;
/** A contained internal failure is logged at most this often per component (it is always counted). */
const INTERNAL_ERROR_LOG_MS = 60_000;

export interface Gateway {
  readonly app: FastifyInstance;
  /** The config serving now. */
  readonly config: GatewayConfig;
  readonly breakers: Breakers;
  readonly metrics: GatewayMetrics;
  /** Limits and budgets (gateway/policy/limits.ts). */
  readonly policy: Policy;
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

export function buildGateway(initial: GatewayConfig, deps: GatewayDeps = {}): Gateway {
  const clock = deps.clock ?? Date.now;
  const random = deps.random ?? Math.random;
  const gw = initial.gateway;
  const requestTimeout = deps.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(deps.logLevel) }),
    logController: new LogController({ disableRequestLogging: true }),
    // No pino child per request (it showed in profiles): request logs are errors only, and those
    // name the request id themselves.
    childLoggerFactory: (logger) => logger,
    bodyLimit: gw.bodyLimit,
    // Requests that arrive while closing get our own 503 envelope (onRequest hook below).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestTimeout,
    // Node checks request timeouts on this interval (its default, 30 s, would let a 1 s limit wait 30).
    // Node enforces requestTimeout only when headersTimeout is not longer.
    http: { connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))), headersTimeout: Math.min(60_000, requestTimeout) },
    clientErrorHandler: clientErrorHandler((e) => metrics.recordRefused('', e.status)),
    frameworkErrors: (err, req, reply) => answerError(err as FastifyError, req, reply),
  });
  const log = app.log.child({ component: 'gateway' });
  const maxDepth = deps.maxJsonDepth ?? MAX_JSON_DEPTH;
  const loggedAt = new Map<InternalComponent, number>();
  /** A log line that cannot be written is counted, never thrown into the request or a timer. */
  const safeLog = (write: () => void) => contain(metrics, 'logging', write, undefined);
  const onInternalError = (component: InternalComponent, err: unknown) => {
    if (component === 'logging') return; // the logger itself failed: counting is all that is left
    const now = clock();
    if (now - (loggedAt.get(component) ?? -Infinity) < INTERNAL_ERROR_LOG_MS) return;
    loggedAt.set(component, now);
    safeLog(() =>
      log.error(
        { component, err: (err as Error)?.message ?? String(err) },
        `contained a failure in the gateway's ${component}; the request was answered (counted in tracegate_gateway_internal_errors_total)`,
      ),
    );
  };
  const breakers = new Breakers(clock, (backend, state) =>
    safeLog(() => log.warn({ backend, state }, `circuit ${state === 'open' ? 'opened' : state === 'closed' ? 'closed' : 'half-open'} for backend ${backend}`)),
  );
  const upstreams = new Upstreams({ dispatcher: deps.dispatcher, simulated: deps.simulated });
  const json = jsonThreads();
  const tracing = buildTracing({
    serviceName: gw.telemetry.serviceName,
    otlpEndpoint: gw.telemetry.otlpEndpoint,
    spanProcessor: deps.spanProcessor,
    tracerProvider: deps.tracerProvider,
    exporter: deps.spanExporter,
    simple: deps.simpleSpanProcessor,
  });
  const metrics = buildMetrics(
    () => breakers.entries(),
    tracing.exportStats,
    (c, err) => onInternalError(c, err),
  );

  const agentOptions = (c: GatewayConfig) => ({
    ...c.gateway.telemetry.agentSessions,
    idleMs: c.gateway.telemetry.agentSessions.idle,
    capture: { mode: c.gateway.telemetry.content.capture, maxBytes: c.gateway.telemetry.content.maxBytes },
  });
  const agents = new AgentSessions(tracing.tracer, agentOptions(initial));
  const stateFor = (config: GatewayConfig): LiveState => ({
    config,
    router: buildRouter(config),
    telemetry: {
      tracer: tracing.tracer,
      metrics,
      capture: Object.freeze({ mode: config.gateway.telemetry.content.capture, maxBytes: config.gateway.telemetry.content.maxBytes }),
      headers: config.gateway.headers,
      attemptSpans: config.gateway.telemetry.attemptSpans,
      agents: config.gateway.telemetry.agentSessions.enabled ? agents : undefined,
    },
  });
  const pepper = deps.keyPepper;
  const initialProblem = keyPepperProblem(initial, pepper);
  if (initialProblem) throw new Error(initialProblem);
  const auth = new Authenticator({ masterKey: deps.masterKey, now: clock });
  const keyIndexFor = (config: GatewayConfig) => (config.apiKeys.size && pepper !== undefined ? new KeyIndex(config, pepper) : undefined);
  auth.setKeys(keyIndexFor(initial));
  let live = stateFor(initial);
  metrics.setNamedModels(live.router.models().map((m) => m.id));
  breakers.sync(initial);
  upstreams.sync(initial.backends.values());
  const watchers: ConfigWatcher[] = [];

  // JSON only: anything else is a 415 that says what to send.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    // A large body is decoded, checked and parsed on a JSON thread, not on the event loop.
    if (bytes.length >= LARGE_JSON_CHARS)
      return void json.parseRequest(bytes, maxDepth).then(
        (r) => {
          req.rawBody = r.text;
          req.rawBytes = r.bytes;
          done(null, r.parsed.value);
        },
        (err: GatewayError) => done(err, undefined),
      );
    const text = bytes.toString('utf8');
    req.rawBody = text;
    let parsed: unknown;
    try {
      parsed = parseJsonBody(text, maxDepth);
    } catch (err) {
      return done(err as GatewayError, undefined);
    }
    done(null, parsed);
  });
  function answerError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
    const e = fastifyErrorToGateway(err);
    if (e.code === 'internal_error') safeLog(() => req.log.error({ err, reqId: req.id }, 'unhandled error'));
    // The route's pattern, not the URL: a client must not be able to mint label values.
    const route = req.routeOptions?.url ?? '';
    metrics.recordRefused(route, e.status);
    if (e.opts.retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(e.opts.retryAfterMs));
    void reply.code(e.status).send(errorBody(e, clientApiOfPath(route)));
  }
  app.setErrorHandler(answerError);
  app.setNotFoundHandler(notFound(app));
  let closing = false;
  app.addHook('onRequest', (req, reply, done) => {
    if (!closing) return done();
    const e = new GatewayError('shutting_down', 'the gateway is shutting down; retry on another instance');
    reply.raw.setHeader('connection', 'close');
    void reply.code(e.status).send(errorBody(e, clientApiOfPath(req.url)));
  });
  const authMetrics = buildAuthMetrics();
  installAuthentication(app, auth, authMetrics.refused);

  const policy = buildPolicy(gw.policy, {
    ...deps.policy,
    clock,
    configSource: initial.source,
    warn: (msg, fields) => safeLog(() => log.warn(fields ?? {}, msg)),
  });
  const callDeps = { live: () => live, breakers, upstreams, json, random, nowMs: clock, policy, onDenied: authMetrics.refused };
  app.post('/v1/chat/completions', callHandler('chat', callDeps));
  app.post('/v1/embeddings', callHandler('embeddings', callDeps));
  app.post('/v1/responses', callHandler('responses', callDeps));
  app.post('/v1/messages', callHandler('messages', callDeps));
  // Google's model methods for Gemini SDK clients: /v1beta/models/{model}:generateContent (handlers/generate.ts).
  app.post('/v1beta/models/:target', generateHandler(callDeps));
  app.post('/v1/models/:target', generateHandler(callDeps));
  app.get('/v1/models', async (req) => ({
    object: 'list',
    data: live.router
      .models()
      .filter((m) => routeAllowed(req.identity, m.route) && modelAllowed(req.identity, m.id))
      .map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: m.route })),
  }));
  const mcp = new McpGateway({ live: () => live.config, auth, policy, onDenied: authMetrics.refused, telemetry: () => live.telemetry, agents, log });
  mcp.register(app);
  app.get('/metrics', async (_req, reply) => reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(await metrics.scrape([policy.env.metrics, authMetrics, mcp.metrics])));
  app.get('/healthz', async () => ({ status: 'ok' }));

  const apply = (config: GatewayConfig) => {
    const problem = keyPepperProblem(config, pepper);
    if (problem) throw new Error(problem);
    auth.setKeys(keyIndexFor(config));
    breakers.sync(config);
    upstreams.sync(config.backends.values());
    mcp.sync(config);
    live = stateFor(config);
    agents.configure(agentOptions(config));
    metrics.setNamedModels(live.router.models().map((m) => m.id));
    if (!policy.configure(config.gateway.policy)) safeLog(() => log.warn({}, 'policy.counters and policy.redis take effect at the next start; the counters in use stay'));
  };

  const gateway: Gateway = {
    app,
    get config() {
      return live.config;
    },
    breakers,
    metrics,
    policy,
    async listen(opts = {}) {
      warmTokenizer();
      json.start();
      return app.listen({ host: opts.host ?? live.config.gateway.listen.host, port: opts.port ?? live.config.gateway.listen.port });
    },
    apply,
    reload(result) {
      const problem = result.ok ? keyPepperProblem(result.config, pepper) : undefined;
      metrics.recordReload(result.ok && !problem);
      if (!result.ok) {
        safeLog(() => {
          for (const p of result.problems) log.error({ path: p.path, line: p.line }, `config refused: ${formatProblem(p)}`);
          log.error({ problems: result.problems.length }, 'the new configuration is invalid; the last good one keeps serving');
        });
        return false;
      }
      if (problem) {
        safeLog(() => log.error({ source: result.config.source }, `config refused: ${problem}; the last good one keeps serving`));
        return false;
      }
      apply(result.config);
      safeLog(() =>
        log.info({ source: result.config.source, routes: result.config.routes.length, backends: result.config.backends.size, apiKeys: result.config.apiKeys.size }, 'configuration reloaded'),
      );
      return true;
    },
    watch(file, opts = {}) {
      const w = watchConfigFile(file, {
        debounceMs: opts.debounceMs,
        env: opts.env,
        onResult: (r) => gateway.reload(r),
        onError: (err) => safeLog(() => log.error({ err: err.message, file }, 'cannot watch the configuration file')),
      });
      watchers.push(w);
      return w;
    },
    flush: () => tracing.forceFlush(),
    async close() {
      for (const w of watchers.splice(0)) w.close();
      closing = true;
      await app.close();
      agents.shutdown();
      await mcp.close();
      await policy.close();
      await upstreams.close();
      await json.close();
      await tracing.shutdown();
      await metrics.shutdown();
    },
  };
  return gateway;
}
