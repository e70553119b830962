/**
 * Gateway metrics with the OpenTelemetry GenAI names, units and bucket boundaries, plus
 * tracegate's request, attempt, circuit and reload counters; served as Prometheus text.
 */
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { GENAI } from '../../common/semconv.js';
import { CIRCUIT_STATE_VALUE, type CircuitState } from '../reliability/breaker.js';
import type { Usage } from '../translators/types.js';
import { gatewayResource } from './tracing.js';

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

export interface GatewayMetrics {
  recordCall(d: CallDims, seconds: number, status: number, usage?: Usage, ttftSeconds?: number): void;
  /** A request the gateway answered before routing (bad JSON, unknown model…). */
  recordRefused(endpoint: string, status: number): void;
  recordAttempt(backend: string, outcome: string): void;
  recordReload(ok: boolean): void;
  /** Prometheus exposition text. */
  scrape(): Promise<string>;
  shutdown(): Promise<void>;
}

export function buildMetrics(serviceName: string, circuits: () => Iterable<[string, { state: CircuitState }]>): GatewayMetrics {
  const reader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({ resource: gatewayResource(serviceName), readers: [reader] });
  const meter = provider.getMeter('tracegate-gateway');
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

  const tokens: Histogram = meter.createHistogram('gen_ai.client.token.usage', {
    unit: '{token}',
    description: 'Number of input and output tokens used',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  const duration: Histogram = meter.createHistogram('gen_ai.server.request.duration', {
    unit: 's',
    description: 'Generative AI server request duration',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const ttft: Histogram = meter.createHistogram('gen_ai.server.time_to_first_token', {
    unit: 's',
    description: 'Time to generate the first token for successful responses',
    advice: { explicitBucketBoundaries: TTFT_BUCKETS },
  });
  const requests: Counter = meter.createCounter('tracegate.gateway.requests', { description: 'Calls answered, by route and status' });
  const attempts: Counter = meter.createCounter('tracegate.gateway.upstream.attempts', { description: 'Upstream attempts by backend and outcome' });
  const reloads: Counter = meter.createCounter('tracegate.gateway.config.reloads', { description: 'Configuration reloads by result' });
  meter
    .createObservableGauge('tracegate.gateway.circuit.state', { description: 'Circuit breaker per backend: 0 closed, 1 open, 2 half-open' })
    .addCallback((obs) => {
      for (const [backend, b] of circuits()) obs.observe(CIRCUIT_STATE_VALUE[b.state], { backend });
    });

  return {
    recordCall(d, seconds, status, usage, ttftSeconds) {
      const base: Attributes = { [GENAI.OPERATION_NAME]: d.operation, [GENAI.PROVIDER_NAME]: d.provider, [GENAI.REQUEST_MODEL]: d.requestModel };
      if (d.responseModel) base[GENAI.RESPONSE_MODEL] = d.responseModel;
      duration.record(seconds, d.errorType ? { ...base, [GENAI.ERROR_TYPE]: d.errorType } : base);
      requests.add(1, { route: d.route, status_code: status });
      if (usage) {
        tokens.record(usage.promptTokens, { ...base, 'gen_ai.token.type': 'input' });
        tokens.record(usage.completionTokens, { ...base, 'gen_ai.token.type': 'output' });
      }
      if (ttftSeconds !== undefined) ttft.record(ttftSeconds, base);
    },
    recordRefused(endpoint, status) {
      requests.add(1, { route: '', endpoint, status_code: status });
    },
    recordAttempt(backend, outcome) {
      attempts.add(1, { backend, outcome });
    },
    recordReload(ok) {
      reloads.add(1, { result: ok ? 'ok' : 'refused' });
    },
    async scrape() {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}
