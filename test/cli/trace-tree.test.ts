import { describe, expect, it } from 'vitest';
import { buildTrace, formatCost, formatDuration, normalizeTraceId, renderTraceTree, type TraceNode } from '../../common/trace-tree.js';

function node(spanId: string, parentSpanId: string, over: Partial<TraceNode> = {}): TraceNode {
  return {
    spanId,
    parentSpanId,
    name: spanId,
    service: 'svc',
    kind: 'CHAIN',
    origin: 'app',
    model: '',
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    cost: 0,
    counted: false,
    startMs: 1000,
    durationMs: 10,
    status: 'Unset',
    statusMessage: '',
    children: [],
    ...over,
  };
}

describe('trace tree', () => {
  const nodes = [
    node('llm2', 'agent', { name: 'ChatCompletion', kind: 'LLM', model: 'm', promptTokens: 20, completionTokens: 5, totalTokens: 25, cost: 0.00002, startMs: 1300 }),
    node('agent', '', { name: 'research-agent', kind: 'AGENT', durationMs: 1500 }),
    node('gw', 'llm1', { name: 'chat m', kind: 'LLM', origin: 'gateway', model: 'm', promptTokens: 10, completionTokens: 2, totalTokens: 12, cost: 0.00001, counted: true, startMs: 1101 }),
    node('llm1', 'agent', { name: 'ChatCompletion', kind: 'LLM', model: 'm', promptTokens: 10, completionTokens: 2, totalTokens: 12, cost: 0.00001, startMs: 1100 }),
    node('orphan', 'missing', { name: 'late-tool', kind: 'TOOL', startMs: 5000, status: 'Error', statusMessage: 'timeout' }),
  ];
  nodes[0].counted = true;

  it('links children, orders by start, keeps orphans as roots and counts each call once', () => {
    const t = buildTrace('t', nodes);
    expect(t.roots.map((r) => r.spanId)).toEqual(['agent', 'orphan']);
    expect(t.roots[0].children.map((c) => c.spanId)).toEqual(['llm1', 'llm2']);
    expect(t.roots[0].children[0].children.map((c) => c.spanId)).toEqual(['gw']);
    expect(t.totalTokens).toBe(37);
    expect(t.cost).toBeCloseTo(0.00003, 10);
    expect(t.spanCount).toBe(5);
    expect(t.durationMs).toBe(4010);
  });

  it('renders guides, columns and the count-once note', () => {
    const text = renderTraceTree(buildTrace('4bf92f3577b34da6a3ce929d0e0e4736', nodes));
    expect(text.split('\n').map((l) => l.trimEnd())).toEqual([
      'trace 4bf92f3577b34da6a3ce929d0e0e4736 · 5 spans · 4.01 s · 37 tokens · $0.000030',
      '',
      'SPAN                    KIND   MODEL  TOKENS  COST         DURATION  STATUS',
      'research-agent          AGENT                              1.50 s',
      '├─ ChatCompletion       LLM    m      (10→2)  ($0.000010)  10 ms',
      '│  └─ chat m [gateway]  LLM    m      10→2    $0.000010    10 ms',
      '└─ ChatCompletion       LLM    m      20→5    $0.000020    10 ms',
      'late-tool               TOOL                               10 ms     error: timeout',
      '',
      '(figures in parentheses are counted once, on the gateway span of the same call)',
    ]);
  });

  it('leaves a model call not yet decided by count-once out of the totals, marked', () => {
    // the same pair, both stored, neither decided yet (0082: no llm_spans row): neither counts
    const pair = [
      node('agent', '', { name: 'research-agent', kind: 'AGENT', durationMs: 1500 }),
      node('llm1', 'agent', { name: 'ChatCompletion', kind: 'LLM', model: 'm', promptTokens: 10, completionTokens: 2, totalTokens: 12, cost: 0.00001, startMs: 1100, undecided: true }),
      node('gw', 'llm1', { name: 'chat m', kind: 'LLM', origin: 'gateway', model: 'm', promptTokens: 10, completionTokens: 2, totalTokens: 12, cost: 0.00001, startMs: 1101, undecided: true }),
    ];
    const t = buildTrace('4bf92f3577b34da6a3ce929d0e0e4736', pair);
    expect([t.totalTokens, t.cost]).toEqual([0, 0]);
    expect(
      renderTraceTree(t)
        .split('\n')
        .map((l) => l.trimEnd()),
    ).toEqual([
      'trace 4bf92f3577b34da6a3ce929d0e0e4736 · 3 spans · 1.50 s · 0 tokens · $0',
      '',
      'SPAN                      KIND   MODEL  TOKENS  COST         DURATION  STATUS',
      'research-agent            AGENT                              1.50 s',
      '└─ ChatCompletion *       LLM    m      (10→2)  ($0.000010)  10 ms',
      '   └─ chat m [gateway] *  LLM    m      (10→2)  ($0.000010)  10 ms',
      '',
      '(* a model call not yet decided by count-once, which runs every 2 s: out of the totals until it is)',
    ]);
  });

  it.each([
    [0.4, '0.40 ms'],
    [12.4, '12 ms'],
    [1234, '1.23 s'],
  ])('formats %d ms as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it.each([
    [0, '$0'],
    [0.0000123, '$0.000012'],
    [1.5, '$1.5000'],
  ])('formats $%d as %s', (usd, text) => expect(formatCost(usd)).toBe(text));

  it('accepts only hex trace ids', () => {
    expect(normalizeTraceId(' 4BF92F3577B34DA6A3CE929D0E0E4736 ')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(() => normalizeTraceId("x' OR 1=1")).toThrow(/not a trace id/);
  });
});
