import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { runValidate } from '../../cli/commands/validate.js';
import { configJsonSchemaText } from '../../gateway/config/json-schema.js';
import { parseConfig } from '../../gateway/config/load.js';
import { formatProblem } from '../../gateway/config/model.js';
import { renderHttpRoutes, toYaml } from '../../gateway/config/render.js';
import { gatewayApiDuration, parseDuration, parseSize } from '../../gateway/config/units.js';
import { backendDoc, config, docs } from './helpers.js';

const OPENAI = backendDoc('openai', 'openai', 'https://api.openai.com/v1', '  apiKey: { env: OPENAI_API_KEY }');
const ROUTE = `kind: Route
metadata: { name: chat }
spec:
  rules:
    - matches: [{ model: gpt-4o }]
      targets: [{ backend: openai }]`;

const problemsOf = (text: string, env: NodeJS.ProcessEnv = { OPENAI_API_KEY: 'sk-test' }) => {
  const r = parseConfig(text, { env, file: 'gw.yaml' });
  return r.ok ? [] : r.problems.map(formatProblem);
};

describe('units', () => {
  it.each([
    [250, 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['30', undefined],
    ['-1s', undefined],
  ])('duration %s → %s', (input, ms) => expect(parseDuration(input)).toBe(ms));

  it.each([
    [1024, 1024],
    ['512kb', 512 * 1024],
    ['4MB', 4 * 1024 * 1024],
    ['10', 10],
    ['1.5mb', undefined],
  ])('size %s → %s', (input, bytes) => expect(parseSize(input)).toBe(bytes));

  it.each([
    [60_000, '1m'],
    [90_500, '1m30s500ms'],
    [0, '0s'],
    [3_600_000, '1h'],
  ])('Gateway API duration of %d ms is %s', (ms, text) => expect(gatewayApiDuration(ms)).toBe(text));
});

describe('config validation', () => {
  it('accepts a valid file, fills defaults, resolves the key apart from the config, and freezes it', () => {
    const c = config(docs(OPENAI, ROUTE), { OPENAI_API_KEY: 'sk-test' });
    expect(c.gateway.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.routes[0].rules[0].timeouts).toEqual({ request: 60_000, attempt: 30_000, streamIdle: 60_000 });
    expect(c.routes[0].rules[0].retry.retries).toBe(2);
    expect(c.keys.get('openai')).toBe('sk-test');
    expect(JSON.stringify(c)).not.toContain('sk-test');
    expect(Object.isFrozen(c.routes[0].rules[0])).toBe(true);
    expect(Object.isFrozen(c.backends.get('openai'))).toBe(true);
    expect(() => {
      (c.gateway as { bodyLimit: number }).bodyLimit = 1;
    }).toThrow();
  });

  it.each([
    {
      name: 'an inline key',
      text: docs(backendDoc('openai', 'openai', 'https://api.openai.com/v1', '  apiKey: sk-live-123'), ROUTE),
      want: ['gw.yaml:7:11 Backend/openai spec.apiKey: an inline key is not allowed in the config file'],
    },
    {
      name: 'a credential in headers',
      text: docs(backendDoc('openai', 'openai', 'https://x.test/v1', '  headers: { Authorization: "Bearer sk" }'), ROUTE),
      want: ['Backend/openai spec.headers.Authorization: "Authorization" carries a credential'],
    },
    {
      name: 'a missing environment variable',
      text: docs(OPENAI, ROUTE),
      env: {},
      want: ['Backend/openai spec.apiKey: environment variable OPENAI_API_KEY is not set'],
    },
    {
      name: 'a route naming an unknown backend, and a fallback too',
      text: docs(OPENAI, ROUTE.replace('[{ backend: openai }]', '[{ backend: opnai }]\n      fallbacks: [{ backend: nope }]')),
      want: ['gw.yaml:15:28 Route/chat spec.rules[0].targets[0].backend: unknown backend "opnai"', 'Route/chat spec.rules[0].fallbacks[0].backend: unknown backend "nope"'],
    },
    {
      name: 'every problem of every document at once',
      text: docs(
        backendDoc('a', 'openai', 'not a url'),
        'kind: Backend\nmetadata: { name: Bad_Name }\nspec: { provider: nope }',
        'kind: Route\nmetadata: { name: r }\nspec:\n  rules:\n    - matches: []\n      targets: [{ backend: a, weight: 0 }]\n      timeouts: { request: soon }',
        'kind: Quota\nmetadata: { name: q }\nspec: {}',
      ),
      want: [
        'Backend/a spec.url:',
        'document 2 metadata.name: lower-case letters',
        'Route/r spec.rules[0].matches: Too small',
        'Route/r spec.rules[0].timeouts.request: a duration',
        'Route/r spec.rules[0].targets: at least one target needs a weight above 0',
        'document 4 kind: Invalid option: expected one of "Gateway"|"Backend"|"Route"',
      ],
    },
    {
      name: 'duplicate names and two Gateway documents',
      text: docs(OPENAI, OPENAI, ROUTE, 'kind: Gateway\nmetadata: { name: g }', 'kind: Gateway\nmetadata: { name: h }'),
      want: ['Backend/openai metadata.name: another Backend is already named "openai"', 'Gateway/h kind: only one Gateway document is allowed'],
    },
    {
      name: 'an alias with a glob',
      text: docs(OPENAI, ROUTE.replace('{ model: gpt-4o }', '{ model: "gpt-*", as: gpt-4o }')),
      want: ['Route/chat spec.rules[0].matches[0].as: an alias needs an exact model name'],
    },
    {
      name: 'broken YAML',
      text: `${docs(OPENAI)}---\nkind: [unclosed\n`,
      want: ['document 2:'],
    },
    {
      name: 'a bad header regular expression',
      text: docs(OPENAI, ROUTE.replace('{ model: gpt-4o }', '{ headers: [{ name: x-team, value: "(", type: RegularExpression }] }')),
      want: ['Route/chat spec.rules[0].matches[0].headers[0].value: not a valid regular expression'],
    },
  ])('reports $name with paths', ({ text, env, want }) => {
    const got = problemsOf(text, env);
    for (const w of want)
      expect(
        got.some((g) => g.includes(w)),
        `missing "${w}" in:\n${got.join('\n')}`,
      ).toBe(true);
    expect(got.join('\n')).not.toContain('sk-live-123');
  });

  it('reads keys from files relative to the config and disables a backend whose optional key is absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-cfg-'));
    try {
      writeFileSync(join(dir, 'key.txt'), 'sk-from-file\n');
      const text = docs(
        backendDoc('a', 'openai', 'https://a.test/v1', '  apiKey: { file: key.txt }'),
        backendDoc('b', 'anthropic', 'https://b.test', '  apiKey: { env: ANTHROPIC_API_KEY, optional: true }'),
        ROUTE.replace('backend: openai', 'backend: a'),
      );
      const r = parseConfig(text, { env: {}, file: join(dir, 'gw.yaml') });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.keys.get('a')).toBe('sk-from-file');
      expect(r.config.backends.get('b')?.disabled).toContain('ANTHROPIC_API_KEY');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('JSON Schema', () => {
  it('gateway/config.schema.json matches the generator (regenerate: npx tsx cli/tracegate.ts validate --schema > gateway/config.schema.json)', () => {
    expect(readFileSync(new URL('../../gateway/config.schema.json', import.meta.url), 'utf8')).toBe(configJsonSchemaText());
  });
});

describe('rendering to Gateway API', () => {
  const text = docs(
    'kind: Gateway\nmetadata: { name: gw }\nspec:\n  kubernetes: { namespace: ai, parentRefs: [{ name: edge, namespace: infra }] }',
    OPENAI,
    backendDoc('claude', 'anthropic', 'https://api.anthropic.com', '  backendRef: { kind: Service, group: "", name: claude-proxy, port: 8443 }'),
    `kind: Route
metadata: { name: chat, labels: { team: search } }
spec:
  hostnames: [ai.example.com]
  rules:
    - name: gpt
      matches:
        - model: gpt-4o
        - model: "gpt-4o-*"
          headers: [{ name: x-team, value: search }]
        - model: fast
          as: gpt-4o-mini
      targets:
        - { backend: openai, weight: 3 }
        - { backend: claude, weight: 1, model: claude-sonnet-4 }
      fallbacks: [{ backend: claude, model: claude-haiku-4 }]
      timeouts: { request: 90s, attempt: 20s }`,
  );
  const c = config(text, { OPENAI_API_KEY: 'k' });
  const { resources, warnings } = renderHttpRoutes(c);

  it('renders one HTTPRoute per Route, one rule per match, model header matches and weighted backendRefs', () => {
    expect(resources).toHaveLength(1);
    const r = resources[0] as any;
    expect(r).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'chat', namespace: 'ai', labels: { team: 'search', 'app.kubernetes.io/managed-by': 'tracegate' } },
    });
    expect(r.spec.parentRefs).toEqual([{ name: 'edge', namespace: 'infra' }]);
    expect(r.spec.hostnames).toEqual(['ai.example.com']);
    expect(r.spec.rules).toHaveLength(3);
    expect(r.spec.rules[0].matches[0].headers).toEqual([{ type: 'Exact', name: 'x-ai-model', value: 'gpt-4o' }]);
    expect(r.spec.rules[1].matches[0].headers).toEqual([
      { type: 'RegularExpression', name: 'x-ai-model', value: '^gpt-4o-.*$' },
      { type: 'Exact', name: 'x-team', value: 'search' },
    ]);
    expect(r.spec.rules[0].backendRefs).toEqual([
      { group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'openai', weight: 3 },
      expect.objectContaining({ group: '', kind: 'Service', name: 'claude-proxy', port: 8443, weight: 1 }),
    ]);
    expect(r.spec.rules[0].timeouts).toEqual({ request: '1m30s', backendRequest: '20s' });
    expect(r.spec.rules[2].filters[0].requestHeaderModifier.set).toEqual([{ name: 'x-ai-model', value: 'gpt-4o-mini' }]);
    expect(JSON.parse(r.metadata.annotations['tracegate.dev/fallbacks'])).toEqual([{ rule: 'chat/gpt', fallbacks: [{ backend: 'claude', model: 'claude-haiku-4' }] }]);
    expect(warnings.some((w) => w.includes('fallbacks'))).toBe(true);
  });

  it('writes YAML documents that read back to the same objects', () => {
    const back = parseAllDocuments(toYaml(resources)).map((d) => d.toJS());
    expect(back).toEqual(resources);
  });

  it('tracegate validate prints OK, every problem, or the rendered routes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-validate-'));
    const sink = () => {
      let text = '';
      const s = textSink((t) => {
        text += t;
      });
      return { s, text: () => text };
    };
    try {
      const good = join(dir, 'good.yaml');
      const bad = join(dir, 'bad.yaml');
      writeFileSync(good, docs(backendDoc('local', 'openai', 'http://127.0.0.1:11434/v1'), ROUTE.replace('backend: openai', 'backend: local')));
      writeFileSync(bad, docs(OPENAI, ROUTE.replace('backend: openai', 'backend: x')));
      let out = sink();
      let err = sink();
      expect(await runValidate(['--config', good], out.s, err.s)).toBe(0);
      expect(out.text()).toMatch(/^OK .*good\.yaml: 1 backend, 1 route \(1 rule\)/);
      out = sink();
      err = sink();
      expect(await runValidate(['--config', bad], out.s, err.s)).toBe(1);
      expect(err.text()).toContain('Route/chat spec.rules[0].targets[0].backend: unknown backend "x"');
      expect(err.text()).toContain('2 problems');
      out = sink();
      expect(await runValidate(['--config', good, '--render'], out.s, sink().s)).toBe(0);
      expect(parseYaml(out.text())).toMatchObject({ kind: 'HTTPRoute', metadata: { name: 'chat' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
