/**
 * The secret scrubber's cost per span (`collector/processors/content/secrets.ts`: a key check
 * for every attribute, the value scan for the rest), as the content stage calls it, on spans
 * shaped like real LLM traffic: an OpenAI chat call as OpenInference writes it, a tool call, a
 * retriever, and one span in ten carrying a credential somewhere.
 *
 *   npm run bench -- scrub [--rounds 15] [--spans 10000] [--processes 6] [--baseline /tmp/secrets-before.ts]
 *
 * With --baseline (another copy of secrets.ts, e.g. `git show <rev>:collector/processors/content/secrets.ts`
 * with its import made absolute), both are timed on the same spans, each in processes of its own
 * (alternating), and the ratio printed. CPU time. Saved to bench/results/scrub.json.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface Scrubber {
  isSecretKey(key: string): boolean;
  scrubValue(v: string): string;
}

type Attr = readonly [key: string, value: string];

const prose = (n: number, seed: number) => {
  const words = ['the', 'model', 'answered', 'with', 'a', 'basic', 'summary', 'of', 'tokens', 'and', 'their', 'key', 'points', 'for', 'each', 'user', 'request'];
  let out = '';
  for (let i = 0; out.length < n; i++) out += `${words[(i * 7 + seed) % words.length]} `;
  return out.slice(0, n);
};

function chat(i: number): Attr[] {
  const messages = [
    { role: 'system', content: prose(300, i) },
    { role: 'user', content: prose(500, i + 1) },
  ];
  return [
    ['openinference.span.kind', 'LLM'],
    ['llm.system', 'openai'],
    ['llm.model_name', 'gpt-4o-mini-2024-07-18'],
    ['llm.invocation_parameters', '{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":256,"stream":false}'],
    ['input.value', JSON.stringify({ model: 'gpt-4o-mini', messages })],
    ['input.mime_type', 'application/json'],
    [
      'output.value',
      JSON.stringify({
        id: `chatcmpl-${i}`,
        choices: [{ message: { role: 'assistant', content: prose(400, i + 2) }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 120, completion_tokens: 80, total_tokens: 200 },
      }),
    ],
    ['output.mime_type', 'application/json'],
    ['llm.input_messages.0.message.role', 'system'],
    ['llm.input_messages.0.message.content', messages[0].content],
    ['llm.input_messages.1.message.role', 'user'],
    ['llm.input_messages.1.message.content', messages[1].content],
    ['llm.output_messages.0.message.role', 'assistant'],
    ['llm.output_messages.0.message.content', prose(400, i + 2)],
    ['llm.token_count.prompt', '120'],
    ['llm.token_count.completion', '80'],
    ['llm.token_count.total', '200'],
    ['session.id', `sess-${i % 97}`],
    ['user.id', `user-${i % 13}`],
    ['http.url', 'https://api.openai.com/v1/chat/completions'],
  ];
}

function tool(i: number): Attr[] {
  return [
    ['openinference.span.kind', 'TOOL'],
    ['tool.name', 'search_docs'],
    ['tool.parameters', `{"query":"${prose(60, i)}","top_k":5}`],
    ['input.value', `{"query":"${prose(60, i)}"}`],
    ['output.value', `Found 5 documents at https://docs.example.com/search?q=tokens&page=${i % 5}: ${prose(600, i)}`],
    ['session.id', `sess-${i % 97}`],
  ];
}

function retriever(i: number): Attr[] {
  return [
    ['openinference.span.kind', 'RETRIEVER'],
    ['input.value', prose(120, i)],
    ['retrieval.documents.0.document.content', prose(700, i + 3)],
    ['retrieval.documents.0.document.id', `doc-${i}`],
    ['retrieval.documents.1.document.content', prose(700, i + 4)],
    ['retrieval.documents.1.document.id', `doc-${i + 1}`],
  ];
}

/** Credentials as they leak: in a message, a tool's URL, a header echoed into an output. */
/** Called for every tenth span (i % 10 === 9), so the kind of leak turns on i / 10: all four occur. */
function leaky(i: number): Attr[] {
  const spans = chat(i);
  const leak = [
    `my key is sk-proj-${'a1B2c3D4'.repeat(5)} please help`,
    `curl -H "Authorization: Bearer ${'x9Y8w7V6'.repeat(4)}" https://api.example.com`,
    `{"model":"gpt-4o","api_key":"${'k'.repeat(20)}${i}","temperature":0}`,
    `postgres://app:hunter2-${i}@db.internal:5432/prod`,
  ][Math.floor(i / 10) % 4];
  return [...spans.slice(0, 10), ['llm.input_messages.1.message.content', leak], ...spans.slice(11)];
}

export function corpus(n: number): Attr[][] {
  const kinds = [chat, chat, chat, tool, tool, retriever, chat, tool, retriever, leaky];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length](i));
}

/** What the content stage does per span with scrubbing on (see content/index.ts). */
function scrubSpans(s: Scrubber, spans: Attr[][]): number {
  let changed = 0;
  for (const attrs of spans) {
    for (const [k, v] of attrs) {
      if (s.isSecretKey(k)) changed++;
      else if (s.scrubValue(v) !== v) changed++;
    }
  }
  return changed;
}

function cpuMicros(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return d.user + d.system;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const CURRENT = join(import.meta.dirname, '../collector/processors/content/secrets.ts');

/** In a child process: one scrubber, timed alone (no call site shared with another copy of it). */
async function child(path: string, rounds: number, n: number): Promise<void> {
  const s = (await import(pathToFileURL(path).href)) as Scrubber;
  const spans = corpus(n);
  const us: number[] = [];
  let hits = 0;
  for (let r = 0; r < rounds + 3; r++) {
    const t = cpuMicros(() => (hits = scrubSpans(s, spans)));
    if (r >= 3) us.push(t / n);
  }
  process.stdout.write(JSON.stringify({ us: median(us), hits }));
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: 'string', default: '15' },
      spans: { type: 'string', default: '10000' },
      processes: { type: 'string', default: '6' },
      baseline: { type: 'string' },
      child: { type: 'string' },
    },
  });
  const [rounds, n] = [Number(values.rounds), Number(values.spans)];
  if (values.child) return child(values.child, rounds, n);
  const targets: Array<[string, string]> = [['current', CURRENT]];
  if (values.baseline) targets.push(['baseline', resolve(values.baseline)]);
  const runs: Record<string, number[]> = Object.fromEntries(targets.map(([name]) => [name, []]));
  const hits: Record<string, number> = {};
  // Each target in processes of its own, alternating, so both see the same machine conditions.
  for (let p = 0; p < Number(values.processes); p++) {
    for (const [name, path] of p % 2 ? [...targets].reverse() : targets) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'run.ts'), 'scrub', '--child', path, '--rounds', String(rounds), '--spans', String(n)], {
        encoding: 'utf8',
      });
      const r = JSON.parse(out) as { us: number; hits: number };
      runs[name].push(r.us);
      hits[name] = r.hits;
    }
  }
  const perSpan = Object.fromEntries(targets.map(([name]) => [name, median(runs[name])]));
  for (const [name] of targets) {
    console.log(
      `${name.padEnd(9)} ${perSpan[name].toFixed(3).padStart(7)} µs/span (CPU; median over ${values.processes} processes of the median of ${rounds} rounds of ${n} spans)  ${hits[name]} attributes scrubbed per round`,
    );
  }
  const ratio = perSpan.baseline ? perSpan.current / perSpan.baseline : undefined;
  if (ratio !== undefined) console.log(`current / baseline: ${ratio.toFixed(3)}`);
  const out = {
    how: 'isSecretKey on every attribute key, scrubValue on the other values, per span; CPU time; each target in its own processes, alternating; median of processes of the median of rounds',
    spans: n,
    rounds,
    us_per_span: perSpan,
    per_process_us: runs,
    attributes_scrubbed_per_round: hits,
    ratio_current_to_baseline: ratio,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    date: new Date().toISOString(),
  };
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'scrub.json'), `${JSON.stringify(out, null, 1)}\n`);
  console.log('saved bench/results/scrub.json');
}
