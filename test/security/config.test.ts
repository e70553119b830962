/**
 * Configuration as an attack surface: whatever lands in the watched file (or a `tracegate
 * validate` argument), the gateway keeps serving its last good configuration, counts and logs
 * the refusal with its path, and connects nowhere the refused file names (the canary listener).
 * Breakers: a backend whose definition changes starts closed; an unrelated change keeps them.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { textSink } from '../helpers/text-sink.js';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runValidate } from '../../cli/commands/validate.js';
import { parseConfig } from '../../gateway/config/load.js';
import { startOpenAIStub, type OpenAIStub } from '../helpers/providers/index.js';
import { backendDoc, docs, eventually } from '../gateway/helpers.js';
import { startWatchedGateway, type WatchedGateway } from '../gateway/watched.js';
import { canaryListener, type CanaryListener } from './canary.js';

let stub: OpenAIStub;
let canary: CanaryListener;
let g: WatchedGateway;
let client: OpenAI;
let dir: string;
let file: string;

const route = (models: string[], backend = 'up', name = 'main') => `kind: Route
metadata: { name: ${name} }
spec:
  rules:
    - matches: [${models.map((m) => `{ model: ${m} }`).join(', ')}]
      targets: [{ backend: ${backend} }]`;
const good = () => docs(backendDoc('up', 'openai', stub.url), route(['one']));
/** A config that would be valid but for its backend's URL, which points at the canary. */
const withUrl = (url: string) => docs(backendDoc('up', 'openai', stub.url), backendDoc('odd', 'openai', url), route(['one']), route(['odd'], 'odd', 'odd'));

const works = (model: string) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(
    () => true,
    () => false,
  );

/**
 * How long a reload may take to show: settling, then a parse thread that loads its modules from the
 * TypeScript sources (0.5 s alone, several on the loaded shared box).
 */
const RELOAD_WAIT_MS = 20_000;

async function counter(result: 'ok' | 'refused'): Promise<number> {
  const m = new RegExp(`tracegate_gateway_config_reloads_total\\{result="${result}"\\} (\\d+)`).exec(await g.gw.metrics.scrape());
  return m ? Number(m[1]) : 0;
}

/** Runs `change`, waits for one more refusal, then checks the answer and that the gateway still serves. */
async function refused(change: () => void, message: string | RegExp): Promise<void> {
  const before = await counter('refused');
  const logged = g.logs().length;
  change();
  await eventually(async () => ((await counter('refused')) > before ? true : undefined), RELOAD_WAIT_MS);
  const newLogs = g.logs().slice(logged);
  if (typeof message === 'string') expect(newLogs).toContain(message);
  else expect(newLogs).toMatch(message);
  expect(newLogs).toContain('the last good one keeps serving');
  expect(await works('one')).toBe(true);
  expect(await works('odd')).toBe(false);
  expect(canary.connections).toBe(0);
}

/** Runs `change` (which puts the good file back) and waits until it is applied. */
async function restored(change: () => void): Promise<void> {
  const ok = await counter('ok');
  change();
  await eventually(async () => ((await counter('ok')) > ok ? true : undefined), RELOAD_WAIT_MS);
  expect(await works('one')).toBe(true);
}

beforeAll(async () => {
  stub = await startOpenAIStub();
  canary = await canaryListener();
  g = await startWatchedGateway(good(), 'tg-sec-config-');
  ({ client, dir, file } = g);
});
afterAll(async () => {
  await g?.close();
  await stub?.close();
  await canary?.close();
});

const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n');

/** Each kind of invalid text written over the watched file, and a fragment of the refusal logged. */
const INVALID: [kind: string, text: () => string | Buffer, message: string | RegExp][] = [
  ['bad YAML', () => 'apiVersion: [unclosed\nkind: {', /document 1/],
  ['a YAML bomb (alias expansion)', () => bomb, 'too many YAML aliases'],
  ['deep flow nesting', () => `${'['.repeat(5000)}${']'.repeat(5000)}`, 'nest deeper than 64 levels'],
  ['deep block nesting', () => Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'), 'indented more than 256 columns'],
  ['a huge file', () => `# ${'x'.repeat(2 * 1024 * 1024)}\n${good()}`, 'larger than 256 KB'],
  ['wrong types', () => good().replace('provider: openai', 'provider: [openai]'), 'Backend/up spec.provider'],
  ['an unknown provider', () => good().replace('provider: openai', 'provider: gopher'), 'Backend/up spec.provider'],
  ['duplicate names', () => docs(backendDoc('up', 'openai', stub.url), backendDoc('up', 'openai', stub.url), route(['one'])), 'another Backend is already named'],
  [
    'NaN and Infinity numbers',
    () => `${good()}---\napiVersion: tracegate.dev/v1alpha1\nkind: Gateway\nmetadata: { name: g }\nspec:\n  bodyLimit: .nan\n  defaults: { retry: { retries: .inf } }\n`,
    'Gateway/g spec.bodyLimit',
  ],
  ['an empty file', () => '', 'no Route: this configuration would serve nothing'],
  ['only whitespace and comments', () => '\n   \n# nothing here\n  # still nothing\n', 'no Route'],
  ['binary garbage', () => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x00, 0x1b, 0x5b]), 'not UTF-8 text'],
  ['a file: backend URL', () => withUrl(`file:///etc/passwd`), 'only http and https URLs are allowed, not \\"file:\\"'],
  ['a unix: backend URL', () => withUrl(`unix:///var/run/docker.sock`), 'not \\"unix:\\"'],
  ['a data: backend URL', () => withUrl('data:text/plain,hello'), 'not \\"data:\\"'],
  ['an ftp: backend URL', () => withUrl(`ftp://${canary.host}:${canary.port}/`), 'not \\"ftp:\\"'],
  ['a gopher: backend URL', () => withUrl(`gopher://${canary.host}:${canary.port}/`), 'not \\"gopher:\\"'],
  ['a javascript: backend URL', () => withUrl('javascript:alert(1)'), 'not \\"javascript:\\"'],
  ['credentials in a backend URL', () => withUrl(`http://user:hunter2@${canary.host}:${canary.port}/v1`), 'credentials inside a URL are not allowed'],
  ['a backend URL without a host', () => withUrl('http://'), 'not a URL'],
  ['a header value with CR LF', () => docs(backendDoc('up', 'openai', stub.url, '  headers: { x-a: "a\\r\\nx-b: b" }'), route(['one'])), 'without control characters'],
];

describe('a watched config file: every invalid kind is refused, counted and logged; the last good one serves', () => {
  for (const [kind, text, message] of INVALID) {
    it(kind, async () => {
      await refused(() => writeFileSync(file, text()), message);
      if (kind.startsWith('credentials')) expect(g.logs()).not.toContain('hunter2');
    });
  }

  it('a folder in place of the file, then the file back', async () => {
    await refused(() => {
      unlinkSync(file);
      mkdirSync(file);
    }, 'this is a folder, not a config file');
    await restored(() => {
      rmdirSync(file);
      writeFileSync(file, good());
    });
  });

  it('the file deleted', async () => {
    await refused(() => unlinkSync(file), 'the config file does not exist');
    await restored(() => writeFileSync(file, good()));
  });

  it('the file renamed away', async () => {
    await refused(() => renameSync(file, join(dir, 'gateway.yaml.bak')), 'does not exist');
    await restored(() => renameSync(join(dir, 'gateway.yaml.bak'), file));
  });
});

describe('a secret file that is not a small regular file is refused, never waited on or read whole', () => {
  const withKeyFile = (path: string) => docs(backendDoc('up', 'openai', stub.url, `  apiKey: { file: "${path}" }`), route(['one']));
  const cases: [kind: string, path: () => string, message: string][] = [
    [
      'a FIFO (opening it would wait for a writer forever)',
      () => {
        execFileSync('mkfifo', [join(dir, 'key.fifo')]);
        return 'key.fifo';
      },
      'key.fifo is not a regular file',
    ],
    ['/dev/zero (endless)', () => '/dev/zero', 'secret file /dev/zero is not a regular file'],
    [
      'a folder',
      () => {
        mkdirSync(join(dir, 'keys'));
        return 'keys';
      },
      'keys is not a regular file',
    ],
    [
      'a 1 MB file',
      () => {
        writeFileSync(join(dir, 'big.key'), 'k'.repeat(1024 * 1024));
        return 'big.key';
      },
      'big.key is larger than 64 KB',
    ],
  ];
  for (const [kind, path, message] of cases) {
    it(kind, async () => {
      await refused(() => writeFileSync(file, withKeyFile(path())), message);
    });
  }
});

describe('a file caught mid-write', () => {
  it('is read once it has settled: the first half is never applied', async () => {
    const full = docs(backendDoc('up', 'openai', stub.url), route(['two']), route(['one', 'three'], 'up', 'second'));
    // The first half is a valid configuration on its own (it serves "two" but not "one").
    const cut = full.indexOf('---\napiVersion: tracegate.dev/v1alpha1\nkind: Route\nmetadata: { name: second }');
    expect(parseConfig(full.slice(0, cut)).ok).toBe(true);
    const ok = await counter('ok');
    const logged = g.logs().length;
    writeFileSync(file, full.slice(0, cut));
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(file, full.slice(cut));
    await eventually(async () => ((await counter('ok')) > ok ? true : undefined), RELOAD_WAIT_MS);
    expect(await counter('ok')).toBe(ok + 1);
    expect(
      g
        .logs()
        .slice(logged)
        .match(/configuration reloaded/g),
    ).toHaveLength(1);
    expect(await works('one')).toBe(true);
    expect(await works('three')).toBe(true);
  });

  it('an empty file is refused; a configuration without routes applies only with allowEmpty', async () => {
    await refused(() => writeFileSync(file, ''), 'no Route');
    const empty = docs('kind: Gateway\nmetadata: { name: g }\nspec:\n  allowEmpty: true');
    expect(parseConfig(empty).ok).toBe(true);
    const ok = await counter('ok');
    writeFileSync(file, empty);
    await eventually(async () => ((await counter('ok')) > ok ? true : undefined), RELOAD_WAIT_MS);
    expect(await works('one')).toBe(false);
    writeFileSync(file, good());
    await eventually(async () => ((await works('one')) ? true : undefined), RELOAD_WAIT_MS);
  });
});

describe('circuit breakers across a reload', () => {
  const TRIPPING = '  circuitBreaker: { failures: 1, cooldown: 10m }';
  const breakerDocs = (url: string, extra = '', backend = TRIPPING) =>
    docs(
      backendDoc('up', 'openai', url, backend),
      `kind: Route\nmetadata: { name: main }\nspec:\n  rules:\n    - matches: [{ model: one }${extra}]\n      targets: [{ backend: up }]\n      retry: { retries: 0 }`,
    );
  const apply = (text: string) => expect(g.gw.reload(parseConfig(text))).toBe(true);
  const status = (model = 'one') =>
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => 200,
      (e: { status?: number }) => e.status ?? 0,
    );
  const trip = async () => {
    stub.failNext(1, 500);
    expect(await status()).toBe(502);
    expect(await status()).toBe(503);
    expect(g.gw.breakers.get('up')?.state).toBe('open');
  };

  it('a backend whose URL changed starts closed; an unrelated change keeps a tripped breaker open', async () => {
    apply(breakerDocs(stub.url));
    await trip();
    // Same stand-in, another spelling of its address: a changed definition.
    apply(breakerDocs(stub.url.replace('127.0.0.1', 'localhost')));
    expect(g.gw.breakers.get('up')?.state).toBe('closed');
    expect(await status()).toBe(200);
    await trip();
    apply(breakerDocs(stub.url.replace('127.0.0.1', 'localhost'), ', { model: two }'));
    expect(g.gw.breakers.get('up')?.state).toBe('open');
    expect(await status()).toBe(503);
    expect(canary.connections).toBe(0);
    apply(good());
  });

  it.each([
    ['its headers', `${TRIPPING}\n  headers: { x-team: blue }`],
    ['its connection limit', `${TRIPPING}\n  connections: 4`],
    ["the breaker's own failure threshold", '  circuitBreaker: { failures: 3, cooldown: 10m }'],
    ["the breaker's own cooldown", '  circuitBreaker: { failures: 1, cooldown: 20m }'],
    ['its API key', `${TRIPPING}\n  apiKey: { env: UP_KEY }`],
  ])('a backend whose settings changed (%s) starts closed after the reload', async (_what, backend) => {
    apply(breakerDocs(stub.url));
    await trip();
    expect(g.gw.reload(parseConfig(breakerDocs(stub.url, '', backend), { env: { UP_KEY: 'sk-rotated' } }))).toBe(true);
    expect(g.gw.breakers.get('up')?.state).toBe('closed');
    expect(/tracegate_gateway_circuit_state\{backend="up"\} (\d)/.exec(await g.gw.metrics.scrape())?.[1]).toBe('0');
    expect(await status()).toBe(200);
    expect(canary.connections).toBe(0);
    apply(good());
  });
});

describe('tracegate validate', () => {
  it('refuses the same backend URLs with their path, exit code 1, and connects nowhere', async () => {
    const bad = join(dir, 'bad.yaml');
    for (const url of ['file:///etc/passwd', `gopher://${canary.host}:${canary.port}/`, `http://u:p@${canary.host}:${canary.port}/`, 'unix:/var/run/docker.sock']) {
      writeFileSync(bad, withUrl(url));
      let out = '';
      let err = '';
      const code = await runValidate(
        ['--config', bad],
        textSink((s) => (out += s)),
        textSink((s) => (err += s)),
      );
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(/Backend\/odd spec\.url: (only http and https URLs are allowed|credentials inside a URL are not allowed)/);
      expect(err).not.toContain(':p@');
    }
    expect(canary.connections).toBe(0);
  });
});
