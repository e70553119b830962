/**
 * The Prometheus metrics of gateway and collector: counters, histograms and gauges read at
 * scrape time, written in the text exposition format 0.0.4 (`exposition`). Made for the request
 * path: a series is found by one string key, so recording costs a Map lookup and a few additions
 * (the OpenTelemetry metrics SDK hashes and sorts attribute objects on every record, which showed
 * at several percent of a request's CPU). Empty label values are left out, as Prometheus treats them.
 */

type Labelled<T> = { labels: readonly string[]; data: T };

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) if (values[i] !== '') parts.push(`${names[i]}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Anything with exposition lines (HELP, TYPE, samples). */
export interface Metric {
  render(): string;
}

abstract class Series<T> implements Metric {
  protected readonly series = new Map<string, Labelled<T>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected get(values: readonly string[], init: () => T): T {
    const key = values.length === 1 ? values[0] : values.join('\u0001');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: [...values], data: init() };
      this.series.set(key, s);
    }
    return s.data;
  }

  abstract render(): string;
}

export type CounterSeries = { value: number };

export class Counter extends Series<CounterSeries> {
  inc(values: readonly string[], n = 1): void {
    this.handle(values).value += n;
  }

  /** The series of these label values (made on first use), for a caller that adds to it again and again. */
  handle(values: readonly string[]): CounterSeries {
    return this.get(values, () => ({ value: 0 }));
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.labels)} ${s.data.value}`);
    return lines.join('\n');
  }
}

export type HistogramSeries = { counts: Float64Array; sum: number; count: number };

export class Histogram extends Series<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    readonly unit?: string,
  ) {
    super(name, help, labelNames);
  }

  observe(values: readonly string[], v: number): void {
    this.record(this.handle(values), v);
  }

  /** The series of these label values (made on first use), for a caller that records into it again and again. */
  handle(values: readonly string[]): HistogramSeries {
    return this.get(values, () => ({ counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
  }

  /** Records `v` into a series of this histogram (from `handle`). */
  record(d: HistogramSeries, v: number): void {
    d.sum += v;
    d.count++;
    // Counts per bucket, not cumulative: cumulated at render time.
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]) {
        d.counts[i]++;
        return;
      }
    }
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`];
    if (this.unit) lines.push(`# UNIT ${this.name} ${this.unit}`);
    lines.push(`# TYPE ${this.name} histogram`);
    for (const s of this.series.values()) {
      let cum = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cum += s.data.counts[i];
        lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, `le="${this.buckets[i]}"`)} ${cum}`);
      }
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, 'le="+Inf"')} ${s.data.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${s.data.sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.data.count}`);
    }
    return lines.join('\n');
  }
}

/** A gauge (or a counter kept elsewhere) read at scrape time. */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly read: () => Iterable<[labels: readonly string[], value: number]>,
    private readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.read()) lines.push(`${this.name}${labelText(this.labelNames, labels)} ${value}`);
    return lines.join('\n');
  }
}

/** A gauge (or counter) of one unlabelled value read at scrape time. */
export const single = (name: string, help: string, read: () => number, type: 'gauge' | 'counter' = 'gauge'): Gauge => new Gauge(name, help, [], () => [[[], read()]], type);

/**
 * The exposition text of `metrics` in order. One that cannot render is left out of the scrape
 * (and handed to `onError`), not the whole answer.
 */
export function exposition(metrics: Iterable<Metric>, onError: (err: unknown) => void = () => {}): string {
  const parts: string[] = [];
  for (const m of metrics) {
    try {
      parts.push(m.render());
    } catch (err) {
      onError(err);
    }
  }
  return `${parts.join('\n')}\n`;
}
