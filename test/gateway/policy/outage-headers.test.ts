/**
 * Failing open with no spend ledger to check budgets against (Redis unreachable from the start,
 * no store to rebuild spend from): calls are served without their budgets, and everything else
 * about the admission is as with the whole list of checks: the x-ratelimit headers count the
 * requests window, the fourth call is refused by it with its own figures, and a ticket settles
 * nothing it did not reserve.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewaySpec } from '../../../gateway/config/schema.js';
import { buildPolicy } from '../../../gateway/policy/build.js';
import type { Identity } from '../../../gateway/policy/identity.js';
import type { Policy } from '../../../gateway/policy/limits.js';
import { Ticket } from '../../../gateway/policy/ticket.js';
import { MODEL } from './fixtures.js';

/** A port nothing listens on: every connection is refused at once. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

// budgets on the team and the key around the key's requests window, so a list without its
// budgets has every other check at another index
const identity: Identity = {
  key: 'no-ledger',
  team: 'no-ledger-team',
  metadata: {},
  allowedRoutes: [],
  allowedModels: [],
  keyLimits: { dailyBudgetUsd: 1, requestsPerMinute: 3, monthlyBudgetUsd: 5 },
  teamLimits: { dailyBudgetUsd: 2, tokensPerMinute: 1_000_000 },
};
const usage = { promptTokens: 10, completionTokens: 5, totalTokens: 15 };
let policy: Policy;

beforeAll(async () => {
  const spec = gatewaySpec.parse({ policy: { counters: 'redis', failMode: 'open', redis: { timeout: '200ms' } } }).policy;
  policy = buildPolicy(spec, {
    env: { TRACEGATE_REDIS_URL: `redis://127.0.0.1:${await closedPort()}` },
    warn: () => {},
    // the store the spend would be rebuilt from is down too
    spend: async () => {
      throw new Error('the store is unreachable');
    },
  });
});
afterAll(async () => {
  await policy?.close();
});

describe('failing open without a spend ledger', () => {
  it('serves without budgets, with the requests headers and refusal of the whole list', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await policy.admit({ identity, endpoint: 'chat', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }, model: MODEL });
      expect(t).toBeInstanceOf(Ticket);
      const h = Object.fromEntries((t as Ticket).headers);
      expect(h['x-ratelimit-limit-requests']).toBe('3');
      remaining.push(h['x-ratelimit-remaining-requests']);
      expect(h['x-ratelimit-limit-tokens']).toBe('1000000');
      // nothing reserved against a budget, so nothing to settle against one
      expect((t as Ticket).holdings().budgets).toEqual([]);
      await (t as Ticket).end(usage, [MODEL]);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const r = await policy.admit({ identity, endpoint: 'chat', body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }, model: MODEL });
    expect(r).not.toBeInstanceOf(Ticket);
    const refusal = r as Exclude<typeof r, Ticket>;
    expect(refusal.error.status).toBe(429);
    expect(refusal.reason).toBe('requests');
    expect(Object.fromEntries(refusal.headers ?? [])).toMatchObject({ 'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0' });
  });
});
