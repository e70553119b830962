/**
 * The policy engine on in-memory counters and a fake clock: what is counted at admission and at
 * settlement, refusals and headers, reservations on every path, periods, fail modes, ledger rebuilds.
 */
import { describe, expect, it } from 'vitest';
import { gatewaySpec } from '../../../gateway/config/schema.js';
import { buildPolicy } from '../../../gateway/policy/build.js';
import { StoreUnavailable, type CounterStore } from '../../../gateway/policy/counters.js';
import type { Identity, Limits } from '../../../gateway/policy/identity.js';
import type { Policy } from '../../../gateway/policy/limits.js';
import { buildPolicyMetrics } from '../../../gateway/policy/metrics.js';
import type { Refusal } from '../../../gateway/policy/refusal.js';
import { Ticket } from '../../../gateway/policy/ticket.js';
import { indexPrices } from '../../../schemas/prices.js';
import type { SpendRow } from '../../../common/spend.js';

// 1 USD per million input tokens, 2 per million output: 1,000 and 2,000 nano-USD a token.
const prices = indexPrices({
  currency: 'USD',
  unit: 'per million tokens',
  taken: '2026-01-01',
  source: 'test',
  models: [
    { pattern: 'cheap*', provider: 'openai', input: 1, output: 2 },
    { pattern: 'dear*', provider: 'openai', input: 10, output: 20 },
  ],
});

const identity = (keyLimits: Limits, teamLimits?: Limits, key = 'alice', team = 'ml'): Identity => ({
  key,
  team: teamLimits ? team : undefined,
  metadata: {},
  allowedRoutes: [],
  allowedModels: [],
  keyLimits,
  teamLimits,
});

function setup(policy: Record<string, unknown> = {}, start = Date.parse('2026-12-31T23:00:00Z'), spend?: (r: { start: Date }) => Promise<SpendRow[]>) {
  const clock = { t: start };
  const metrics = buildPolicyMetrics();
  const spec = gatewaySpec.parse({ policy }).policy;
  const p = buildPolicy(spec, { clock: () => clock.t, prices, metrics, spend });
  return { p, clock, metrics };
}

const body = (maxTokens?: number, text = 'hello') => ({ model: 'cheap-1', messages: [{ role: 'user', content: text }], ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) });
const chat = (id: Identity | undefined, maxTokens?: number, model = 'cheap-1') => ({ identity: id, endpoint: 'chat' as const, body: body(maxTokens), model });
const usage = (p: number, c: number) => ({ promptTokens: p, completionTokens: c, totalTokens: p + c });

async function admitted(p: Policy, call: ReturnType<typeof chat>): Promise<Ticket> {
  const r = await p.admit(call);
  if (!(r instanceof Ticket)) throw new Error(`refused: ${r.error.message}`);
  return r;
}
const refused = async (p: Policy, call: ReturnType<typeof chat>) => {
  const r = await p.admit(call);
  if (r instanceof Ticket) throw new Error('admitted');
  return r as Refusal;
};

describe('policy limits', () => {
  it('requests per minute per key and per team; the 429 names the limit and when to retry', async () => {
    const { p, clock, metrics } = setup();
    const a = identity({ requestsPerMinute: 2 }, { requestsPerMinute: 3 });
    const b = identity({ requestsPerMinute: 5 }, { requestsPerMinute: 3 }, 'bob');
    const t = await admitted(p, chat(a));
    expect(Object.fromEntries(t.headers)).toMatchObject({ 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '1' });
    await admitted(p, chat(a));
    const r = await refused(p, chat(a));
    expect(r.error.status).toBe(429);
    expect(r.error.body).toMatchObject({ error: { code: 'rate_limit_exceeded', type: 'requests' } });
    expect(r.error.message).toContain('requestsPerMinute of key alice');
    expect(r.error.retryAfterMs).toBeGreaterThan(0);
    expect(r.attributes).toMatchObject({ 'tracegate.policy.reason': 'requests', 'tracegate.policy.scope': 'key' });
    expect(Object.fromEntries(r.headers ?? [])).toMatchObject({ 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '0' });
    expect(Object.fromEntries(r.headers ?? [])['x-ratelimit-reset-requests']).toMatch(/^\d/);
    await admitted(p, chat(b)); // the team's third
    expect((await refused(p, chat(b))).scope).toBe('team');
    expect(metrics.render()).toContain('tracegate_gateway_policy_refusals_total{reason="requests",scope="team"} 1');
    clock.t += 60_000;
    await admitted(p, chat(a));
    await p.close();
  });

  it('tokens per minute: the estimate plus max_tokens at admission, the real usage after', async () => {
    const { p } = setup();
    const a = identity({ tokensPerMinute: 1000 });
    const t = await admitted(p, chat(a, 500));
    const est = Number(Object.fromEntries(t.headers)['x-ratelimit-limit-tokens']) - Number(Object.fromEntries(t.headers)['x-ratelimit-remaining-tokens']) - 500;
    expect(est).toBeGreaterThan(0);
    expect(await refused(p, chat(a, 500))).toMatchObject({ reason: 'tokens' });
    await t.end(usage(est, 100));
    const u = await admitted(p, chat(a, 0));
    expect(Object.fromEntries(u.headers)['x-ratelimit-remaining-tokens']).toBe(String(1000 - est - 100 - est));
    await p.close();
  });

  it('concurrent requests: a lease per call, freed when it ends', async () => {
    const { p } = setup();
    const a = identity({ concurrentRequests: 1 });
    const t = await admitted(p, chat(a));
    expect(await refused(p, chat(a))).toMatchObject({ reason: 'concurrency' });
    await t.end(undefined);
    await admitted(p, chat(a));
    await p.close();
  });

  it('budgets: reserve the worst case, settle to the real cost, release exactly, refuse once crossed', async () => {
    const { p } = setup();
    // $0.01 = 10,000 tokens of input, or 5,000 of output.
    const a = identity({ dailyBudgetUsd: 0.01 });
    const t = await admitted(p, chat(a, 4000)); // worst case: estimate + 4000 output = about $0.008
    const r = await refused(p, chat(a, 4000));
    expect(r.error.body).toMatchObject({ error: { code: 'insufficient_quota', type: 'insufficient_quota' } });
    expect(r.reason).toBe('daily_budget');
    await t.end(undefined); // an upstream failure: released
    const t2 = await admitted(p, chat(a, 4000));
    await t2.end(usage(1000, 2000)); // $0.001 + $0.004 = $0.005 spent
    await admitted(p, chat(a, 2400)).then((x) => x.end(usage(0, 2400))); // $0.0048: total $0.0098
    const last = await refused(p, chat(a, 200)); // $0.0004 + input would cross $0.01
    expect(last.error.message).toMatch(/spent and reserved \$0\.0098/);
    await p.close();
  });

  it('a fallback at other prices re-reserves at them; one that does not fit is refused', async () => {
    const { p } = setup();
    const a = identity({ monthlyBudgetUsd: 0.03 });
    const t = await admitted(p, chat(a, 1000)); // cheap: about $0.002
    expect(await t.reprice('dear-1')).toBeUndefined(); // about $0.02 now
    const other = await admitted(p, chat(a, 1000)); // about $0.022 held
    const r = await other.reprice('dear-2'); // $0.04 does not fit
    expect(r?.reason).toBe('monthly_budget');
    expect(await t.reprice('cheap-2')).toBeUndefined(); // back to about $0.002, `other` holds nothing
    await admitted(p, chat(a, 1000, 'dear-3')); // about $0.022 again
    expect((await refused(p, chat(a, 1000, 'dear-4'))).reason).toBe('monthly_budget');
    await p.close();
  });

  it('the month (and day) roll over in the configured time zone', async () => {
    // 23:00 UTC on Dec 31 is already January 1 in Berlin.
    const { p, clock } = setup({ timeZone: 'Europe/Berlin' }, Date.parse('2026-12-31T22:30:00Z'));
    const a = identity({ monthlyBudgetUsd: 0.003 });
    await (await admitted(p, chat(a, 1000))).end(usage(0, 1000)); // $0.002 of December's $0.003
    expect((await refused(p, chat(a, 1000))).reason).toBe('monthly_budget');
    clock.t = Date.parse('2026-12-31T23:00:00Z'); // midnight in Berlin: January
    await admitted(p, chat(a, 1000));
    await p.close();
  });

  it('a stream past what its reservation covers is told to stop; without a budget it never is', async () => {
    const { p } = setup({ reservation: { maxTokens: 100 } });
    const t = await admitted(p, chat(identity({ dailyBudgetUsd: 1 })));
    expect(t.overran(100)).toBe(false);
    expect(t.overran(101)).toBe(true);
    const free = await admitted(p, chat(identity({ requestsPerMinute: 10 })));
    expect(free.overran(1e9)).toBe(false);
    await p.close();
  });

  it('no limits anywhere: no store call, no headers', async () => {
    const { p } = setup();
    const t = await admitted(p, chat(identity({})));
    expect(t).toBe(Ticket.free);
    expect((await admitted(p, chat(undefined))).headers).toEqual([]);
    await p.close();
  });

  it('without a key, the default limits apply to every call together', async () => {
    const { p } = setup({ defaultLimits: { requestsPerMinute: 1 } });
    await admitted(p, chat(undefined));
    expect(await refused(p, chat(undefined))).toMatchObject({ scope: 'default' });
    // With authentication on, a call without identity is the master key's: no limit holds it.
    expect(await p.admit({ ...chat(undefined), open: false })).toBe(Ticket.free);
    await p.close();
  });

  it('budgets start from the spend the store has on record', async () => {
    const spend = async (r: { start: Date }): Promise<SpendRow[]> => {
      const day = r.start.toISOString().startsWith('2026-12-31');
      return [{ team: 'ml', key: 'alice', usd: day ? 0.004 : 0.009, calls: 1, prompt_tokens: 0, completion_tokens: 0 }];
    };
    const { p, metrics } = setup({}, Date.parse('2026-12-31T12:00:00Z'), spend);
    expect((await refused(p, chat(identity({ monthlyBudgetUsd: 0.01 }), 1000))).reason).toBe('monthly_budget');
    await admitted(p, chat(identity({ monthlyBudgetUsd: 0.0115 }), 1000));
    expect((await refused(p, chat(identity({ dailyBudgetUsd: 0.005 }, undefined, 'alice'), 1000))).reason).toBe('daily_budget');
    expect(metrics.render()).toContain('tracegate_gateway_policy_ledger_rebuilds_total{result="ok"} 1');
    await p.close();
  });
});

describe('fail modes', () => {
  const broken = (): CounterStore => {
    const fail = async () => {
      throw new StoreUnavailable('redis admit failed: connect ECONNREFUSED', 'admit');
    };
    return { kind: 'redis', admit: fail, settle: fail, renew: fail, seed: fail, seeded: fail, close: async () => {} };
  };

  it('open: serves, counting in this process and counting the fault', async () => {
    const { p, metrics } = setup({ failMode: 'open' });
    (p.env as { store: CounterStore }).store = broken();
    const a = identity({ requestsPerMinute: 1 });
    await admitted(p, chat(a));
    expect((await refused(p, chat(a))).reason).toBe('requests');
    expect(metrics.render()).toContain('tracegate_gateway_policy_store_faults_total{op="admit",outcome="served"} 2');
  });

  it('closed: 503 in the OpenAI envelope', async () => {
    const { p, metrics } = setup({ failMode: 'closed' });
    (p.env as { store: CounterStore }).store = broken();
    const r = await refused(p, chat(identity({ requestsPerMinute: 1 })));
    expect(r.error.status).toBe(503);
    expect(r.error.body).toMatchObject({ error: { code: 'policy_store_unavailable', type: 'api_error' } });
    expect(metrics.render()).toContain('tracegate_gateway_policy_refusals_total{reason="store_unavailable",scope="store"} 1');
  });
});
