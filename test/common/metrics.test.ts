/** The Prometheus registry and exposition writer that gateway and collector share (common/metrics/registry.ts). */
import { describe, expect, it } from 'vitest';
import { Counter, exposition, Gauge, Histogram, single, type Metric } from '../../common/metrics/registry.js';

describe('Prometheus exposition', () => {
  it('counters: one line per series in the order first seen, empty label values left out, values escaped', () => {
    const c = new Counter('t_requests_total', 'Requests.', ['route', 'status']);
    c.inc(['a', '200']);
    c.inc(['', '404'], 2);
    c.inc(['a', '200']);
    c.inc(['q"uo\\te\nline', '500']);
    expect(c.render()).toBe(
      [
        '# HELP t_requests_total Requests.',
        '# TYPE t_requests_total counter',
        't_requests_total{route="a",status="200"} 2',
        't_requests_total{status="404"} 2',
        't_requests_total{route="q\\"uo\\\\te\\nline",status="500"} 1',
      ].join('\n'),
    );
  });

  it('histograms: cumulative buckets, +Inf, sum and count, the unit line when there is one', () => {
    const h = new Histogram('t_seconds', 'Latency.', ['op'], [0.1, 1], 's');
    for (const v of [0.05, 0.5, 5]) h.observe(['x'], v);
    h.record(h.handle(['']), 0.1);
    expect(h.render()).toBe(
      [
        '# HELP t_seconds Latency.',
        '# UNIT t_seconds s',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{op="x",le="0.1"} 1',
        't_seconds_bucket{op="x",le="1"} 2',
        't_seconds_bucket{op="x",le="+Inf"} 3',
        't_seconds_sum{op="x"} 5.55',
        't_seconds_count{op="x"} 3',
        't_seconds_bucket{le="0.1"} 1',
        't_seconds_bucket{le="1"} 1',
        't_seconds_bucket{le="+Inf"} 1',
        't_seconds_sum 0.1',
        't_seconds_count 1',
      ].join('\n'),
    );
  });

  it('gauges and single values are read at scrape time', () => {
    let depth = 1;
    const g = new Gauge('t_state', 'State.', ['backend'], () => [
      [['a'], depth],
      [['b'], 2 * depth],
    ]);
    const s = single('t_done_total', 'Done.', () => depth * 10, 'counter');
    depth = 3;
    expect(exposition([g, s])).toBe(
      '# HELP t_state State.\n# TYPE t_state gauge\nt_state{backend="a"} 3\nt_state{backend="b"} 6\n# HELP t_done_total Done.\n# TYPE t_done_total counter\nt_done_total 30\n',
    );
  });

  it('a metric that cannot render is left out and reported; the others are written', () => {
    const broken: Metric = {
      render() {
        throw new Error('boom');
      },
    };
    const errors: unknown[] = [];
    const text = exposition([single('t_a', 'A.', () => 1), broken, single('t_b', 'B.', () => 2)], (err) => errors.push(err));
    expect(text).toBe('# HELP t_a A.\n# TYPE t_a gauge\nt_a 1\n# HELP t_b B.\n# TYPE t_b gauge\nt_b 2\n');
    expect(errors).toHaveLength(1);
  });
});
