/**
 * Secret scrubbing, one table per format: values that must be masked (and what is left of
 * them) and near misses that must stay as they are. Plus linearity: long near-miss inputs
 * for every pattern are scanned in bounded work (measured in characters per call, not time).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatterns, scrubValue } from '../../../collector/processors/content/secrets.js';
import { isSecretJsonKey } from '../../../collector/processors/content/secrets-json.js';
import { fuzzParams } from '../../security/fuzz.js';

const R = '__REDACTED__';
const rep = (s: string, n: number) => s.repeat(n);
const A36 = 'aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4';

const FORMATS: Record<string, { masked: Array<[string, string]>; kept: string[] }> = {
  'OpenAI / Anthropic / Slack / AWS / Google (kept from before)': {
    masked: [
      [`key sk-proj-${rep('a1', 12)} here`, `key ${R} here`],
      [`sk-ant-api03-${rep('Zz9', 10)}`, R],
      ['token xoxb-1234567890-abcdef', `token ${R}`],
      ['AKIAABCDEFGHIJKLMNOP', R],
      [`AIzaSyA1234567890abcdefghijklmnopqrstuv`, R],
    ],
    kept: ['risk-assessment-framework-v2', 'AKIA is a prefix', 'ask-me-anything'],
  },
  'GitHub tokens': {
    masked: [
      [`ghp_${A36}`, R],
      [`gho_${A36}`, R],
      [`ghu_${A36}`, R],
      [`ghs_${A36}`, R],
      [`ghr_${A36}`, R],
      [`git clone https://github_pat_11ABCDEFG0123456789_${rep('xY', 29)}@github.com/o/r`, `git clone https://${R}@github.com/o/r`],
    ],
    kept: ['ghp_short', 'the ghost_in_the_machine', `gha_${A36}`, 'github_pat_'],
  },
  'Stripe secret and restricted keys (live and test)': {
    masked: [
      [`sk_live_${rep('4eC39HqLyjWDarjtT1zdp7dc', 1)}`, R],
      [`rk_live_${rep('51Hx', 6)}`, R],
      [`sk_test_${rep('4eC3', 6)}`, R],
      [`rk_test_${rep('9Zq', 8)}`, R],
    ],
    kept: ['pk_live_51HxPublishableKeyIsPublic', 'sk_live_short', 'desk_live_tests'],
  },
  'Hugging Face tokens': {
    masked: [[`HF_TOKEN=hf_${rep('AbCdEfGhIj', 3)}1234`, `HF_TOKEN=${R}`]],
    kept: ['hf_hub_download', 'hf_transfer enabled', 'use hf_model_id here'],
  },
  JWT: {
    masked: [
      ['Authorization header had eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok', `Authorization header had ${R} ok`],
      ['unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', `unsigned ${R}`],
    ],
    kept: ['eyJ alone', 'eyJhbGciOiJIUzI1NiJ9 without a payload', 'the eye.of.the.storm'],
  },
  'PEM private keys': {
    masked: [
      ['a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nx0=\n-----END RSA PRIVATE KEY-----\nb', `a\n${R}\nb`],
      ['-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----', R],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----', R],
      ['-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkq\n-----END ENCRYPTED PRIVATE KEY-----', R],
      ['-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI cut off here', R],
    ],
    kept: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----'],
  },
  'credentials in URLs': {
    masked: [
      ['postgres://app:hunter2@db:5432/prod', `postgres://app:${R}@db:5432/prod`],
      ['redis://:s3cret@cache:6379', `redis://:${R}@cache:6379`],
      ['GET https://api.x.com/v1?api_key=abc123&q=1', `GET https://api.x.com/v1?api_key=${R}&q=1`],
      ['https://x.com/?apikey=abc123', `https://x.com/?apikey=${R}`],
      ['https://x.com/cb?token=abc.def', `https://x.com/cb?token=${R}`],
      ['https://acct.blob.core.windows.net/c/b?sv=2021&sig=AbC%2Bd%3D', `https://acct.blob.core.windows.net/c/b?sv=2021&sig=${R}`],
      ['#access_token=ya29.a0AfH6&expires_in=3599', `#access_token=${R}&expires_in=3599`],
      ['https://maps.googleapis.com/x?key=0123456789abcdefXYZ_', `https://maps.googleapis.com/x?key=${R}`],
      ['login with password=hunter2 failed', `login with password=${R} failed`],
    ],
    kept: [
      'https://docs.example.com/search?q=tokens&page=2',
      'mailto:someone@example.com',
      'https://user@example.com/path',
      's3://bucket/x?key=photos/1.jpg',
      'https://x.com/?monkey=1',
      'keyboard=qwerty',
      'a=b',
    ],
  },
  'Basic and Bearer, any case': {
    masked: [
      ['authorization: bearer xyz', `authorization: bearer ${R}`],
      ['Authorization: Basic dXNlcjpwYXNz', `Authorization: Basic ${R}`],
      ['BASIC abc=', `BASIC ${R}`],
      ['sent Bearer abcdefghijklmnopqrstuvwxyz', `sent Bearer ${R}`],
      ['sent bearer abc12345', `sent bearer ${R}`],
      ['BEARER xYz12345', `BEARER ${R}`],
      ['-H "AUTHORIZATION: Token abc"', `-H "AUTHORIZATION: Token ${R}"`],
    ],
    kept: ['the bearer of bad news', 'basic configuration', 'Basic understanding of the bearer bonds', 'a basic summary'],
  },
  'JSON keys inside values': {
    masked: [
      ['{"model":"gpt-4o","api_key":"sk-abc","temperature":0}', `{"model":"gpt-4o","api_key":"${R}","temperature":0}`],
      ['{"apiKey": "abc", "n": 1}', `{"apiKey": "${R}", "n": 1}`],
      ['{"password":"p\\"w","passwd":"x","secret":"y"}', `{"password":"${R}","passwd":"${R}","secret":"${R}"}`],
      ['{"client_secret":"x","token":"t","access_token":"a","authorization":"Bearer z"}', `{"client_secret":"${R}","token":"${R}","access_token":"${R}","authorization":"${R}"}`],
      ['{"pin":{"password":12345}}', `{"pin":{"password":"${R}"}}`],
      ['{"arguments":"{\\"db_password\\":\\"hunter2\\",\\"q\\":1}"}', `{"arguments":"{\\"db_password\\":\\"${R}\\",\\"q\\":1}"}`],
    ],
    kept: ['{"max_tokens":256,"prompt_tokens":1,"token_count":3}', '{"key":"model","value":"x"}', '{"eos_token":"</s>"}', '{"password_policy_url":"x"}', '{"secret": null}'],
  },
};

describe.each(Object.entries(FORMATS))('%s', (_name, { masked, kept }) => {
  it.each(masked)('masks %j', (input, want) => expect(scrubValue(input)).toBe(want));
  it.each(kept.map((k) => [k]))('keeps %j', (input) => expect(scrubValue(input)).toBe(input));
});

describe('JSON values stay valid JSON', () => {
  it('llm.invocation_parameters with credentials parses after scrubbing, with the rest intact', () => {
    const params = { model: 'gpt-4o', temperature: 0.2, api_key: 'sk-x', headers: { Authorization: 'Bearer abc', 'x-api-key': 'k' }, nested: [{ clientSecret: 5, ok: true }] };
    const out = JSON.parse(scrubValue(JSON.stringify(params)));
    expect(out).toEqual({ model: 'gpt-4o', temperature: 0.2, api_key: R, headers: { Authorization: R, 'x-api-key': R }, nested: [{ clientSecret: R, ok: true }] });
  });

  it('any object with credential-named keys, at any escaping level', () => {
    const key = fc.constantFrom('api_key', 'apiKey', 'password', 'secret', 'token', 'authorization', 'note', 'max_tokens');
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    fc.assert(
      fc.property(fc.dictionary(key, value), fc.boolean(), (obj, nested) => {
        const text = nested ? JSON.stringify({ arguments: JSON.stringify(obj) }) : JSON.stringify(obj);
        const parsed = JSON.parse(scrubValue(text));
        const inner = nested ? JSON.parse(parsed.arguments) : parsed;
        for (const [k, v] of Object.entries(obj)) {
          if (isSecretJsonKey(k) && v !== null) expect(inner[k]).toBe(R);
          else if (!isSecretJsonKey(k)) expect(inner[k]).toEqual(v);
        }
      }),
      fuzzParams(200),
    );
  });
});

describe('the probe misses nothing', () => {
  // Every pattern run on every value, ungated: what scrubValue must give for any value of 8 characters or more.
  const ungated = (v: string) => applyPatterns(v, ~0);
  const anyCase = (word: string) => fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((up) => [...word].map((ch, k) => (up[k] ? ch.toUpperCase() : ch)).join(''));
  const spelling = (...words: string[]) => fc.oneof(fc.constantFrom(...words.flatMap((w) => [w, w.toUpperCase(), w[0].toUpperCase() + w.slice(1)])), fc.constantFrom(...words).chain(anyCase));
  const spaces = (max: number) => fc.tuple(fc.integer({ min: 0, max }), fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u2003')).map(([n, ch]) => ch.repeat(n));
  const body = fc.oneof(
    {
      weight: 30,
      arbitrary: fc.constantFrom('', 'abc', 'abc123', 'A1b2C3d4E5f6G7h8I9j0', 'x'.repeat(40), 'Q9'.repeat(30), 'ABCDEFGHIJKLMNOP', 'abcdefghijklmnopqrstuvwxyz', '12345', 'a.b-c_d~e+f/g'),
    },
    { weight: 1, arbitrary: fc.constantFrom('a'.repeat(4095), 'a'.repeat(4096), 'a'.repeat(4097)) },
  );
  const pad = fc.constantFrom('', '=', '==');
  const unit = fc
    .oneof(
      fc.tuple(fc.constantFrom('sk-', 'sk-proj-', 'xoxb-', 'xoxq-', 'AKIA', 'ASIA', 'AIza', 'ghp_', 'gho_', 'gha_', 'github_pat_', 'sk_live_', 'rk_test_', 'pk_live_', 'hf_', 'eyJ', 'xeyJ'), body),
      fc.tuple(fc.constantFrom('eyJ', 'eyJhbGciOiJIUzI1NiJ9'), fc.constantFrom('.', '-'), fc.constantFrom('eyJ', 'eyJzdWIiOiIxIn0', 'e'), fc.constantFrom('.', ''), body),
      fc.tuple(fc.constantFrom('-----BEGIN ', '-----BEGIN RSA ', '-----END '), fc.constantFrom('PRIVATE KEY-----', 'PUBLIC KEY-----', 'PRIVATE KEY--'), body),
      fc.tuple(spelling('bearer', 'basic'), spaces(9), body, pad),
      fc.tuple(
        fc.constantFrom('', 'proxy-', 'x-'),
        spelling('authorization'),
        spaces(9),
        fc.constantFrom(':', '='),
        spaces(9),
        fc.constantFrom('', '"', "'"),
        fc.constantFrom('', 'Bearer ', 'token ', 'Basic  '),
        body,
      ),
      fc.tuple(
        fc.constantFrom('', '?', '&', ';', ' ', '-', 'x'),
        spelling(
          'api_key',
          'apikey',
          'access-token',
          'token',
          'id_token',
          'sig',
          'signature',
          'key',
          'password',
          'passwd',
          'secret',
          'client_secret',
          'x-amz-signature',
          'x-amz-security-token',
          'page',
          'monkey',
        ),
        fc.constantFrom('=', '=='),
        body,
      ),
      fc.tuple(fc.constantFrom('postgres', 'a', 'git+ssh', ''), fc.constantFrom('://', ':/'), fc.constantFrom('', 'user', 'u.v'), fc.constantFrom(':', ''), body, fc.constantFrom('@', '@host', '')),
      fc
        .tuple(
          fc.constantFrom('', '\\', '\\\\\\'),
          fc.constant('"'),
          spelling(
            'api_key',
            'apiKey',
            'x-api-key',
            'password',
            'db_password',
            'pwd',
            'secret',
            'token',
            'token_',
            'authorization',
            'credentials',
            'cookie',
            'auth',
            'max_tokens',
            'x9max_token',
            'eos_token',
            'note',
            'monkey',
            `${'k'.repeat(57)}api_key`,
            `${'k'.repeat(58)}api_key`,
          ),
        )
        .chain(([esc, q, key]) =>
          fc.tuple(fc.constant(esc + q + key + esc + q), spaces(17), fc.constant(':'), spaces(2), fc.constantFrom(`${esc}"v${esc}"`, '12', 'true', 'null', '{', `${esc}"a${esc}\\"b${esc}"`)),
        ),
      fc.string({ maxLength: 4 }),
    )
    .map((parts) => (typeof parts === 'string' ? parts : parts.join('')));
  const separator = fc.constantFrom('', ' ', ',', '\n', '"', '{', 'x');
  const value = (units: number, padding: string) =>
    fc.tuple(fc.array(fc.tuple(separator, unit), { minLength: 1, maxLength: units }), fc.boolean()).map(([parts, before]) => {
      const text = parts.flat().join('');
      return before ? padding + text : text + padding;
    });

  // The shortest masked values without a `:` or `=`: values below 14 characters without one are not read.
  it.each([['Basic abcd1234'], ['BASIC 1234abcd'], ['eyJabcd.eyJab.']])('%j (14 characters) is masked', (v) => {
    expect(v.length).toBe(14);
    expect(scrubValue(v)).not.toBe(v);
    expect(scrubValue(v)).toBe(ungated(v));
  });

  it.each([
    ['short values (read character by character)', 2, ''],
    ['long values (searched per trigger)', 3, ' the model answered with a summary of the points for each user request'],
  ])('%s: scrubValue equals every pattern run ungated', (_name, units, padding) => {
    fc.assert(
      fc.property(value(units, padding), (v) => {
        if (v.length >= 8) expect(scrubValue(v)).toBe(ungated(v));
      }),
      fuzzParams(3000),
    );
  });
});

describe('linear in the input: 1 MB near misses finish in bounded work', () => {
  const MB = 1 << 20;
  it.each([
    ['eyJ repeated', 'eyJ'],
    ['eyJ- repeated', 'eyJ-'],
    ['eyJa.eyJb repeated', 'eyJa.eyJb'],
    ['a: repeated', 'a:'],
    ['a:// repeated', 'a://x:'],
    ['Bearer repeated', 'Bearer '],
    ['basic a repeated', 'basic a'],
    ['authorization: repeated', 'authorization:'],
    ['PEM BEGIN without END', '-----BEGIN PRIVATE KEY-----'],
    ['sk- repeated', 'sk-'],
    ['ghp_ repeated', 'ghp_'],
    ['"password": repeated', '"password":'],
    ['\\"token\\":\\" repeated', '\\"token\\":\\"'],
    ['?token= repeated', '?token='],
    ['quote repeated', '"'],
    ['a= repeated (the walk back from =)', 'a='],
    ['4,000-character credential runs each ending in =', `${'a'.repeat(4000)}=`],
    ['spaces then : repeated', `${' '.repeat(15)}:`],
    ['backslashes then ": repeated', '\\\\\\":'],
    ['_ repeated', '_'],
    ['- repeated', '-'],
    ['b repeated', 'b'],
    ['A repeated', 'A'],
  ])('%s', (_name, unit) => {
    const input = unit.repeat(Math.ceil(MB / unit.length));
    // Bound by work, not time: the same input at 1/8 the size must take about 1/8 the CPU.
    const cost = (s: string) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = process.cpuUsage();
        scrubValue(s);
        const d = process.cpuUsage(t);
        best = Math.min(best, d.user + d.system);
      }
      return best;
    };
    const small = input.slice(0, MB / 8);
    cost(small);
    const ratio = cost(input) / Math.max(cost(small), 2000);
    expect(ratio).toBeLessThan(40); // quadratic would be ~64; linear ~8
  });
});
