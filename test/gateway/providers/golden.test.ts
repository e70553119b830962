/**
 * Golden fixtures for every translator, table-driven. Each `golden/<endpoint>_<from>_<to>.json`
 * holds four tables:
 *   request  — client body + target + options → upstream { url, headers, body } or a 400 error
 *   response — client body + upstream 2xx body → client body + telemetry facts
 *   error    — upstream status/body/headers → client error (status, envelope, retry facts), by the
 *              provider's error mapping for this translator's client API
 *   stream   — client body + upstream events (SSE, or decoded event-stream messages) → client frames (parsed) + facts
 * Inputs are written by hand; `expect` blocks were generated once with UPDATE_GOLDEN=1 and then
 * read line by line. Regenerate after an intended change and review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../../gateway/sse.js';
import { providerFor, translatorFor } from '../../../gateway/providers/registry.js';
import type { Endpoint, ProviderKind, RequestOptions, SseEvent, Target, Translator } from '../../../gateway/providers/types.js';

const DIR = join(import.meta.dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const NOW = 1_700_000_000_000;

interface Case {
  name: string;
  [k: string]: any;
}
interface Golden {
  request?: Case[];
  response?: Case[];
  error?: Case[];
  stream?: Case[];
}

function translatorOf(file: string): Translator {
  const [endpoint, , to] = file.replace(/\.json$/, '').split('_');
  const t = translatorFor(endpoint as Endpoint, to as ProviderKind);
  if (!t) throw new Error(`no translator for ${file}`);
  return t;
}

/** Frames as a test reads them: event name (when any) and data parsed as JSON where it is JSON. */
function readFrames(frames: string[]): unknown[] {
  const p = new SseParser();
  const evs = [...p.push(frames.join('')), ...p.end()];
  return evs.map((e) => {
    let data: unknown = e.data;
    try {
      data = JSON.parse(e.data);
    } catch {
      /* [DONE] and other plain text stay strings */
    }
    return e.event ? { event: e.event, data } : data;
  });
}

/** JSON with short values kept on one line, so fixtures read as tables. */
function format(v: unknown, indent: string): string {
  const flat = JSON.stringify(v);
  if (flat === undefined) return 'null';
  if (v === null || typeof v !== 'object' || flat.length + indent.length <= 110) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + format(x, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner)}`).join(',\n')}\n${indent}}`;
}

const run = {
  request(t: Translator, c: Case) {
    const target: Target = { model: c.target?.model ?? 'target-model', backend: c.target?.backend ?? { kind: t.backendKind, baseUrl: 'https://upstream.test/v1' } };
    const opts: RequestOptions = { forceUsageOnStream: true, ...c.opts };
    const r = t.request(c.body, target, opts);
    if (!r.ok) return { error: { status: r.error.status, body: r.error.body } };
    return { url: r.request.url, headers: r.request.headers, stream: r.request.stream, body: JSON.parse(r.request.body.toString()) };
  },
  response(t: Translator, c: Case) {
    const r = t.response(200, typeof c.upstream === 'string' ? c.upstream : JSON.stringify(c.upstream), { clientBody: c.clientBody ?? {}, nowMs: NOW });
    if (!r.ok) return { error: { status: r.error.status, body: r.error.body } };
    const { ok: _ok, body, json, ...facts } = r;
    expect(JSON.parse(body)).toEqual(json);
    return { json, facts };
  },
  error(t: Translator, c: Case) {
    const e = providerFor(t.backendKind).error(c.status, typeof c.upstream === 'string' ? c.upstream : JSON.stringify(c.upstream), c.headers ?? {}, t.clientApi);
    return { status: e.status, body: e.body, retryable: e.retryable, retryAfterMs: e.retryAfterMs ?? null, log: e.message };
  },
  stream(t: Translator, c: Case) {
    const s = t.stream({ clientBody: c.clientBody ?? {}, nowMs: NOW });
    const frames: string[] = [];
    let firstContentAt: number | null = null;
    (c.events as SseEvent[]).forEach((ev, i) => {
      // Decoded event-stream messages (Bedrock) are written with their JSON payload as an object.
      frames.push(...s.push(typeof ev.data === 'string' ? ev : { ...ev, data: JSON.stringify(ev.data) }));
      if (firstContentAt === null && s.firstContentSeen) firstContentAt = i;
    });
    frames.push(...s.end());
    return { frames: readFrames(frames), facts: s.facts, firstContentAt, streamError: s.streamError ? { status: s.streamError.status, body: s.streamError.body } : null };
  },
};

for (const file of readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()) {
  const path = join(DIR, file);
  const golden = JSON.parse(readFileSync(path, 'utf8')) as Golden;
  const t = translatorOf(file);
  describe(file, () => {
    for (const table of ['request', 'response', 'error', 'stream'] as const) {
      for (const c of golden[table] ?? []) {
        it(`${table}: ${c.name}`, () => {
          const actual = JSON.parse(JSON.stringify(run[table](t, c)));
          if (UPDATE) c.expect = actual;
          else expect(actual).toEqual(c.expect);
        });
      }
    }
    if (UPDATE) it('rewrites the fixture', () => writeFileSync(path, `${format(golden, '')}\n`));
  });
}
