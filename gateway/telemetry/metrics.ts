/**
 * Gateway metrics with the OpenTelemetry GenAI names, units and bucket boundaries (exposed the
 * way the OpenTelemetry Prometheus exporter names them: dots to underscores), plus tracegate's
 * request, attempt, circuit and reload counters.
 */
import { CIRCUIT_STATE_VALUE, type CircuitState } from '../reliability/breaker.js';
import type { Usage } from '../providers/types.js';
import { INTERNAL_COMPONENTS, type InternalComponent, type InternalErrorSink } from './contain.js';
import { ModelLabels } from './labels.js';
import type { ExportStats } from './otlp/processor.js';
import { Counter, exposition, Gauge, Histogram, type CounterSeries, type HistogramSeries, type Metric } from '../../common/metrics/registry.js';
import { EventLoopDelay } from '../../common/metrics/event-loop.js';

export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];

/** The dimensions every GenAI metric of a call carries. */
export interface CallDims {
  operation: string;
  provider: string;
  requestModel: string;
  responseModel?: string;
  route: string;
  errorType?: string;
}

export interface GatewayMetrics extends InternalErrorSink {
  recordCall(d: CallDims, seconds: number, status: number, usage?: Usage, ttftSeconds?: number): void;
  /** A request the gateway answered before routing (bad JSON, unknown model…). */
  recordRefused(endpoint: string, status: number): void;
  recordAttempt(backend: string, outcome: string): void;
  recordReload(ok: boolean): void;
  /** The model names the serving configuration spells out: label values as is (others are capped). */
  setNamedModels(names: Iterable<string>): void;
  /** Prometheus exposition text: these metrics, then `more` (the policy's, authentication's, MCP's). */
  scrape(more?: Iterable<Metric>): Promise<string>;
  shutdown(): Promise<void>;
}

const GENAI_LABELS = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model'];

/** The series one kind of call records into, found by one key instead of one per metric. */
interface CallSeries {
  base: string[];
  duration: HistogramSeries;
  requests: CounterSeries;
  tokensIn?: HistogramSeries;
  tokensOut?: HistogramSeries;
  ttft?: HistogramSeries;
}

/** Kinds of call whose series are kept at hand (model names come from clients); others look theirs up. */
const CALL_KINDS = 1024;

/** `spans`: the OTLP processor's counts, read at scrape time. */
export function buildMetrics(
  circuits: () => Iterable<[string, { state: CircuitState }]>,
  spans: () => ExportStats | undefined = () => undefined,
  onInternalError: (component: InternalComponent, err: unknown) => void = () => {},
): GatewayMetrics {
  const tokens = new Histogram('gen_ai_client_token_usage', 'Number of input and output tokens used', [...GENAI_LABELS, 'gen_ai_token_type'], TOKEN_BUCKETS, '{token}');
  const duration = new Histogram('gen_ai_server_request_duration', 'Generative AI server request duration', [...GENAI_LABELS, 'error_type'], DURATION_BUCKETS, 's');
  const ttft = new Histogram('gen_ai_server_time_to_first_token', 'Time to generate the first token for successful responses', GENAI_LABELS, TTFT_BUCKETS, 's');
  const requests = new Counter('tracegate_gateway_requests_total', 'Calls answered, by route and status', ['route', 'endpoint', 'status_code']);
  const attempts = new Counter('tracegate_gateway_upstream_attempts_total', 'Upstream attempts by backend and outcome', ['backend', 'outcome']);
  const reloads = new Counter('tracegate_gateway_config_reloads_total', 'Configuration reloads by result', ['result']);
  const circuit = new Gauge('tracegate_gateway_circuit_state', 'Circuit breaker per backend: 0 closed, 1 open, 2 half-open', ['backend'], function* () {
    for (const [backend, b] of circuits()) yield [[backend], CIRCUIT_STATE_VALUE[b.state]];
  });
  const spanCount = (key: keyof ExportStats) =>
    function* (): Generator<[string[], number]> {
      const s = spans();
      if (s) yield [[], s[key]];
    };
  const exported = new Gauge('tracegate_gateway_spans_exported_total', 'Spans the collector acknowledged', [], spanCount('exported'), 'counter');
  const dropped = new Gauge('tracegate_gateway_spans_dropped_total', 'Spans dropped because the export queue was full (the collector is not keeping up)', [], spanCount('dropped'), 'counter');
  const failed = new Gauge('tracegate_gateway_spans_failed_total', 'Spans in export requests that failed (collector down, timeout, refused)', [], spanCount('failed'), 'counter');
  const queued = new Gauge('tracegate_gateway_span_queue_bytes', 'Encoded span bytes waiting for or in an export request', [], spanCount('queuedBytes'));
  const internal = new Map<InternalComponent, number>(INTERNAL_COMPONENTS.map((c) => [c, 0]));
  const internalErrors = new Gauge(
    'tracegate_gateway_internal_errors_total',
    "Failures inside the gateway's own telemetry, metrics, tokenizer or logging, contained (the request was still answered)",
    ['component'],
    function* () {
      // Span encoding happens in the span processor, which keeps its own count.
      const encoding = spans()?.encodeErrors ?? 0;
      for (const [c, n] of internal) yield [[c], c === 'telemetry' ? n + encoding : n];
    },
    'counter',
  );
  const loop = new EventLoopDelay();
  const all = [tokens, duration, ttft, requests, attempts, reloads, circuit, exported, dropped, failed, queued, internalErrors, loop];
  const calls = new Map<string, CallSeries>();
  const models = new ModelLabels();

  return {
    recordCall(d, seconds, status, usage, ttftSeconds) {
      const requestModel = models.of(d.requestModel);
      const responseModel = d.responseModel === undefined ? '' : models.of(d.responseModel);
      const key = `${d.operation}\u0001${d.provider}\u0001${requestModel}\u0001${responseModel}\u0001${d.errorType ?? ''}\u0001${d.route}\u0001${status}`;
      let c = calls.get(key);
      if (!c) {
        const base = [d.operation, d.provider, requestModel, responseModel];
        c = { base, duration: duration.handle([...base, d.errorType ?? '']), requests: requests.handle([d.route, '', String(status)]) };
        if (calls.size < CALL_KINDS) calls.set(key, c);
      }
      duration.record(c.duration, seconds);
      c.requests.value++;
      if (usage) {
        tokens.record((c.tokensIn ??= tokens.handle([...c.base, 'input'])), usage.promptTokens);
        tokens.record((c.tokensOut ??= tokens.handle([...c.base, 'output'])), usage.completionTokens);
      }
      if (ttftSeconds !== undefined) ttft.record((c.ttft ??= ttft.handle(c.base)), ttftSeconds);
    },
    recordRefused(endpoint, status) {
      requests.inc(['', endpoint, String(status)]);
    },
    recordAttempt(backend, outcome) {
      attempts.inc([backend, outcome]);
    },
    recordReload(ok) {
      reloads.inc([ok ? 'ok' : 'refused']);
    },
    recordInternalError(component, err) {
      internal.set(component, (internal.get(component) ?? 0) + 1);
      onInternalError(component, err);
    },
    setNamedModels: (names) => models.setNamed(names),
    async scrape(more = []) {
      return exposition([...all, ...more], (err) => this.recordInternalError('metrics', err));
    },
    shutdown: async () => loop.stop(),
  };
}
