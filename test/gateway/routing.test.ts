import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from '../../gateway/reliability/breaker.js';
import { buildRouter, globToRegExp, pathMatches } from '../../gateway/routing/match.js';
import { pickWeighted, planCandidates } from '../../gateway/routing/plan.js';
import { backendDoc, config, docs } from './helpers.js';

const cfg = config(
  docs(
    backendDoc('a', 'openai', 'http://a.test/v1'),
    backendDoc('b', 'openai', 'http://b.test/v1'),
    backendDoc('c', 'anthropic', 'http://c.test'),
    `kind: Route
metadata: { name: team }
spec:
  rules:
    - name: research
      matches: [{ model: "gpt-*", headers: [{ name: x-team, value: research }] }]
      targets: [{ backend: b }]`,
    `kind: Route
metadata: { name: main }
spec:
  rules:
    - name: gpt
      matches:
        - model: gpt-4o
        - model: "gpt-4o-*"
        - model: fast
          as: gpt-4o-mini
      targets: [{ backend: a, weight: 3 }, { backend: b, weight: 1, model: gpt-4o-azure }]
      fallbacks: [{ backend: c, model: claude-sonnet-4 }, { backend: a }]
    - name: embed
      matches: [{ path: { type: Exact, value: /v1/embeddings } }]
      targets: [{ backend: a }]
    - name: claude
      matches: [{ model: "claude-?-*", headers: [{ name: x-tier, value: "^(gold|silver)$", type: RegularExpression }] }]
      targets: [{ backend: c }]`,
  ),
);

describe('route matching', () => {
  const router = buildRouter(cfg);
  it.each([
    { model: 'gpt-4o', headers: {}, path: '/v1/chat/completions', rule: 'main/gpt', as: 'gpt-4o' },
    { model: 'gpt-4o-mini', headers: {}, path: '/v1/chat/completions', rule: 'main/gpt', as: 'gpt-4o-mini' },
    { model: 'fast', headers: {}, path: '/v1/chat/completions', rule: 'main/gpt', as: 'gpt-4o-mini' },
    { model: 'gpt-4o', headers: { 'x-team': 'research' }, path: '/v1/chat/completions', rule: 'team/research', as: 'gpt-4o' },
    { model: 'gpt-4o', headers: { 'x-team': 'other' }, path: '/v1/chat/completions', rule: 'main/gpt', as: 'gpt-4o' },
    { model: 'text-embedding-3-small', headers: {}, path: '/v1/embeddings', rule: 'main/embed', as: 'text-embedding-3-small' },
    { model: 'claude-3-haiku', headers: { 'x-tier': 'gold' }, path: '/v1/chat/completions', rule: 'main/claude', as: 'claude-3-haiku' },
    { model: 'claude-3-haiku', headers: { 'x-tier': 'bronze' }, path: '/v1/chat/completions', rule: undefined },
    { model: 'gpt-4', headers: {}, path: '/v1/chat/completions', rule: undefined },
    { model: 'gpt-4o', headers: {}, path: '/v1/embeddings', rule: 'main/gpt', as: 'gpt-4o' },
  ])('$model $headers on $path → $rule', ({ model, headers, path, rule, as }) => {
    const hit = router.find(model, path, headers);
    expect(hit?.rule.id).toBe(rule);
    if (rule) expect(hit?.model).toBe(as);
  });

  it('lists exact names and aliases, never globs', () => {
    expect(router.models().map((m) => m.id)).toEqual(['gpt-4o', 'fast']);
  });

  it.each([
    ['gpt-4o-*', 'gpt-4o-mini', true],
    ['gpt-4o-*', 'gpt-4o', false],
    ['claude-?-*', 'claude-3-opus', true],
    ['a.b*', 'aXb', false],
    ['*', 'anything', true],
  ])('glob %s vs %s → %s', (glob, s, want) => expect(globToRegExp(glob).test(s)).toBe(want));

  it.each([
    ['PathPrefix', '/v1', '/v1/chat/completions', true],
    ['PathPrefix', '/v1', '/v1x', false],
    ['PathPrefix', '/', '/anything', true],
    ['Exact', '/v1/embeddings', '/v1/embeddings/', false],
  ] as const)('%s %s vs %s → %s', (type, want, path, ok) => expect(pathMatches(type, want, path)).toBe(ok));
});

describe('candidates', () => {
  const rule = cfg.routes[1].rules[0];
  const seq =
    (...xs: number[]) =>
    () =>
      xs.shift() ?? 0;

  it('draws the primary by weight, then the fallbacks in order without repeating the primary', () => {
    expect(planCandidates(rule, 'gpt-4o', () => true, seq(0.1)).candidates).toEqual([
      { backend: 'a', model: 'gpt-4o', fallback: false },
      { backend: 'c', model: 'claude-sonnet-4', fallback: true },
    ]);
    expect(planCandidates(rule, 'gpt-4o', () => true, seq(0.9)).candidates.map((c) => `${c.backend}:${c.model}`)).toEqual(['b:gpt-4o-azure', 'c:claude-sonnet-4', 'a:gpt-4o']);
  });

  it('moves an unavailable target share to the others and reports it skipped', () => {
    const p = planCandidates(rule, 'gpt-4o', (b) => b !== 'a', seq(0.1));
    expect(p.skipped).toEqual(['a']);
    expect(p.candidates[0]).toEqual({ backend: 'b', model: 'gpt-4o-azure', fallback: false });
  });

  it('splits by weight within tolerance', () => {
    const counts = { a: 0, b: 0, c: 0 };
    let x = 0;
    const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++)
      counts[
        pickWeighted(
          [
            { n: 'a', weight: 3 },
            { n: 'b', weight: 1 },
            { n: 'c', weight: 0 },
          ],
          random,
        )!.n as 'a' | 'b' | 'c'
      ]++;
    expect(counts.c).toBe(0);
    expect(counts.a / 20_000).toBeGreaterThan(0.73);
    expect(counts.a / 20_000).toBeLessThan(0.77);
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, lets one probe through after the cool-down, closes on its success', () => {
    let now = 0;
    const changes: CircuitState[] = [];
    const b = new CircuitBreaker(
      { enabled: true, failures: 3, cooldown: 1000 },
      () => now,
      (s) => changes.push(s),
    );
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.available()).toBe(false);
    expect(b.acquire()).toBe(false);
    expect(b.retryInMs()).toBe(1000);
    now = 1000;
    expect(b.available()).toBe(true);
    expect(b.acquire()).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.acquire()).toBe(false);
    b.failure();
    expect(b.state).toBe('open');
    now = 2500;
    expect(b.acquire()).toBe(true);
    b.release();
    expect(b.acquire()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('never opens when disabled', () => {
    const b = new CircuitBreaker({ enabled: false, failures: 1, cooldown: 1000 }, () => 0);
    for (let i = 0; i < 5; i++) b.failure();
    expect(b.acquire()).toBe(true);
    expect(b.state).toBe('closed');
  });
});
