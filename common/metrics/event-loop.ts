import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Metric } from './registry.js';

/**
 * The event loop's delay, as prom-client's default metrics name it (`nodejs_eventloop_lag_*`,
 * seconds): what a request waited for the loop since the previous scrape of this endpoint. Each
 * /metrics endpoint has a monitor of its own (Node's `monitorEventLoopDelay`, a timer every
 * `resolution` ms; the values are reset after each scrape, as prom-client does), so the gateway's
 * and the collector's endpoints in one process do not reset each other's window. The monitor
 * starts at the first scrape (a process nobody scrapes runs no timer), which shows zeros.
 */
export class EventLoopDelay implements Metric {
  private h: IntervalHistogram | undefined;

  constructor(private readonly resolutionMs = 10) {}

  render(): string {
    if (!this.h) {
      this.h = monitorEventLoopDelay({ resolution: this.resolutionMs });
      this.h.enable();
    }
    const h = this.h;
    const s = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
    // an empty window (no sample yet) reads as min 9.2e18 ns: shown as 0
    const none = h.count === 0;
    const lines = [
      ['nodejs_eventloop_lag_min_seconds', 'The minimum event loop delay since the last scrape.', none ? 0 : s(h.min)],
      ['nodejs_eventloop_lag_max_seconds', 'The maximum event loop delay since the last scrape.', none ? 0 : s(h.max)],
      ['nodejs_eventloop_lag_mean_seconds', 'The mean event loop delay since the last scrape.', none ? 0 : s(h.mean)],
      ['nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the event loop delay since the last scrape.', none ? 0 : s(h.percentile(50))],
      ['nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the event loop delay since the last scrape.', none ? 0 : s(h.percentile(99))],
    ].flatMap(([name, help, v]) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`]);
    h.reset();
    return lines.join('\n');
  }

  stop(): void {
    this.h?.disable();
    this.h = undefined;
  }
}
