/**
 * A small Prometheus registry for the request path: a series is found by one string key, so
 * recording costs a Map lookup and a few additions (the OpenTelemetry metrics SDK hashes and
 * sorts attribute objects on every record, which showed at several percent of a request's CPU).
 * Text exposition format 0.0.4; empty label values are left out, as Prometheus treats them.
 */

type Series<T> = { labels: readonly string[]; data: T };

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) if (values[i] !== '') parts.push(`${names[i]}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric<T> {
  protected readonly series = new Map<string, Series<T>>();

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

export class Counter extends Metric<CounterSeries> {
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

export class Histogram extends Metric<HistogramSeries> {
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
export class Gauge {
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
