/**
 * The boundary around the gateway's own side work: telemetry (span building, attribute
 * serialisation, export), metrics, token estimation and logging. None of it may fail a request
 * or reach the process (an exception thrown from a timer kills it): each call is made through
 * `contain`, which turns an exception into a count in `/metrics`
 * (`tracegate_gateway_internal_errors_total{component}`) and a fallback value.
 */

export const INTERNAL_COMPONENTS = ['telemetry', 'metrics', 'tokenizer', 'logging', 'policy'] as const;
export type InternalComponent = (typeof INTERNAL_COMPONENTS)[number];

/** Where contained failures are counted (the gateway's metrics). */
export interface InternalErrorSink {
  recordInternalError(component: InternalComponent, err?: unknown): void;
}

/** Runs `fn`; an exception is counted against `component` and `fallback` is returned instead. */
export function contain<T>(sink: InternalErrorSink, component: InternalComponent, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    counted(sink, component, err);
    return fallback;
  }
}

/** Counts a failure already caught; counting itself never throws. */
export function counted(sink: InternalErrorSink, component: InternalComponent, err: unknown): void {
  try {
    sink.recordInternalError(component, err);
  } catch {
    // Nothing left to tell: the count is the last resort.
  }
}
