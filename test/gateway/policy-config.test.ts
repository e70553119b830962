/**
 * ApiKey and Team documents: validation with located problems, the cross-document checks, and
 * how a key's identity is compiled from its own settings, its team's defaults and the Gateway's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../cli/commands/validate.js';
import { parseConfig } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import { hashKey } from '../../gateway/policy/keys.js';
import { config, docs } from './helpers.js';

const PEPPER = 'p'.repeat(32);
const HASH = hashKey('tg-someone', PEPPER);
const SIM = 'kind: Backend\nmetadata: { name: sim }\nspec:\n  provider: simulated';
const ROUTE = 'kind: Route\nmetadata: { name: chat }\nspec:\n  rules:\n    - matches: [{ model: "gpt-*" }]\n      targets: [{ backend: sim }]';
const apiKey = (name: string, spec: string) => `kind: ApiKey\nmetadata: { name: ${name} }\nspec:\n${spec}`;

const problemsOf = (...parts: string[]) => {
  const r = parseConfig(docs(SIM, ROUTE, ...parts), { file: 'gw.yaml' });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('ApiKey and Team documents', () => {
  it('compile into identities: key settings first, then the team defaults, then policy.defaultLimits', () => {
    const c = config(
      docs(
        'kind: Gateway\nmetadata: { name: gw }\nspec:\n  policy:\n    defaultLimits: { requestsPerMinute: 60, concurrentRequests: 4, budget: { monthlyUsd: 100 } }',
        SIM,
        ROUTE,
        'kind: Team\nmetadata: { name: billing }\nspec:\n  limits: { tokensPerMinute: 100000, budget: { dailyUsd: 50 } }\n  defaults:\n    allowedModels: ["gpt-4o-*"]\n    limits: { requestsPerMinute: 30, budget: { dailyUsd: 5 } }',
        apiKey('billing-ci', `  team: billing\n  hash: ${HASH}\n  metadata: { owner: ci }\n  limits: { concurrentRequests: 2 }\n  expires: 2030-01-01T00:00:00Z`),
        apiKey('loner', `  hash: ${hashKey('tg-other', PEPPER)}\n  allowedRoutes: [chat]\n  revoked: true`),
      ),
    );
    const k = c.apiKeys.get('billing-ci')!;
    expect(k.hash).toBe(HASH);
    expect(k.expiresAt).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(k.revoked).toBe(false);
    expect(k.identity).toEqual({
      key: 'billing-ci',
      team: 'billing',
      metadata: { owner: 'ci' },
      allowedRoutes: [],
      allowedModels: ['gpt-4o-*'],
      keyLimits: { concurrentRequests: 2, requestsPerMinute: 30, dailyBudgetUsd: 5, monthlyBudgetUsd: 100 },
      teamLimits: { tokensPerMinute: 100000, dailyBudgetUsd: 50 },
    });
    const loner = c.apiKeys.get('loner')!;
    expect(loner.revoked).toBe(true);
    expect(loner.identity).toMatchObject({
      key: 'loner',
      team: undefined,
      allowedRoutes: ['chat'],
      keyLimits: { requestsPerMinute: 60, concurrentRequests: 4, monthlyBudgetUsd: 100 },
      teamLimits: undefined,
    });
    expect(c.teams.get('billing')).toEqual({ name: 'billing', limits: { tokensPerMinute: 100000, dailyBudgetUsd: 50 } });
    expect(Object.isFrozen(k.identity.keyLimits)).toBe(true);
    // A Team document needs no spec.
    expect(config(docs(SIM, ROUTE, 'kind: Team\nmetadata: { name: empty }')).teams.get('empty')).toEqual({ name: 'empty', limits: {} });
  });

  it.each([
    { name: 'a key naming an unknown team', parts: [apiKey('k', `  team: nobody\n  hash: ${HASH}`)], want: ['gw.yaml:19:9 ApiKey/k spec.team: unknown team "nobody"'] },
    { name: 'the key itself instead of its hash', parts: [apiKey('k', '  hash: tg-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')], want: ['ApiKey/k spec.hash: this is a key, not its hash'] },
    { name: 'a hash of another form', parts: [apiKey('k', '  hash: sha256:abc')], want: ['ApiKey/k spec.hash: the hash `tracegate keys hash` (or `keys create`) prints'] },
    { name: 'no hash', parts: [apiKey('k', '  team: t')], want: ['ApiKey/k spec.hash:'] },
    { name: 'two keys with one hash', parts: [apiKey('a', `  hash: ${HASH}`), apiKey('b', `  hash: ${HASH}`)], want: ['ApiKey/b spec.hash: ApiKey/a has the same hash'] },
    { name: 'an expiry without an offset', parts: [apiKey('k', `  hash: ${HASH}\n  expires: "2030-01-01 10:00"`)], want: ['ApiKey/k spec.expires: an RFC 3339 time with its offset'] },
    { name: 'an impossible date', parts: [apiKey('k', `  hash: ${HASH}\n  expires: 2030-02-30T99:00:00Z`)], want: ['ApiKey/k spec.expires: an RFC 3339 time'] },
    {
      name: 'limits of the wrong kind, an unknown limit, budgets below 0',
      parts: [apiKey('k', `  hash: ${HASH}\n  limits: { requestsPerMinute: 1.5, perHour: 3, budget: { dailyUsd: -1 } }`)],
      want: [
        'ApiKey/k spec.limits.requestsPerMinute: a whole number, 0 or more',
        'ApiKey/k spec.limits: Unrecognized key: "perHour"',
        'ApiKey/k spec.limits.budget.dailyUsd: an amount in US dollars, 0 or more',
      ],
    },
    { name: 'metadata that is not a string map', parts: [apiKey('k', `  hash: ${HASH}\n  metadata: { n: 1 }`)], want: ['ApiKey/k spec.metadata.n:'] },
    { name: 'a team with an unknown field', parts: ['kind: Team\nmetadata: { name: t }\nspec:\n  budget: 5'], want: ['Team/t spec: Unrecognized key: "budget"'] },
    {
      name: 'an unknown kind still says which kinds exist',
      parts: ['kind: ApiKeys\nmetadata: { name: k }\nspec: {}'],
      want: ['document 3 kind: Invalid option: expected one of "Gateway"|"Backend"|"Route"|"ApiKey"|"Team"'],
    },
  ])('$name', ({ parts, want }) => {
    const got = problemsOf(...parts);
    expect(got.length).toBe(want.length);
    for (const w of want)
      expect(
        got.some((g) => g.includes(w)),
        `${w}\n in\n${got.join('\n')}`,
      ).toBe(true);
  });

  it('a key naming a team whose own document is invalid is reported once, on the team', () => {
    const got = problemsOf('kind: Team\nmetadata: { name: t }\nspec:\n  limits: { requestsPerMinute: -1 }', apiKey('k', `  team: t\n  hash: ${HASH}`));
    expect(got).toEqual([expect.stringContaining('Team/t spec.limits.requestsPerMinute')]);
  });

  it('a problem line never repeats the value of hash', () => {
    const key = 'tg-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    expect(problemsOf(apiKey('k', `  hash: ${key}`)).join('\n')).not.toContain(key);
  });

  it('tracegate validate counts the ApiKey and Team documents in its OK line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-validate-keys-'));
    let text = '';
    const out = textSink((t) => {
      text += t;
    });
    try {
      const file = join(dir, 'gw.yaml');
      writeFileSync(file, docs(SIM, ROUTE, 'kind: Team\nmetadata: { name: billing }\nspec: {}', apiKey('a', `  team: billing\n  hash: ${HASH}`), apiKey('b', `  hash: ${hashKey('tg-b', PEPPER)}`)));
      expect(await runValidate(['--config', file], out, out)).toBe(0);
      expect(text).toMatch(/^OK .*gw\.yaml: 1 backend, 1 route \(1 rule\), 2 API keys, 1 team\n/);
      text = '';
      writeFileSync(file, docs(SIM, ROUTE));
      expect(await runValidate(['--config', file], out, out)).toBe(0);
      expect(text).toMatch(/^OK .*gw\.yaml: 1 backend, 1 route \(1 rule\), 0 API keys, 0 teams\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
