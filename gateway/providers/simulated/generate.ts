/**
 * Made-up content for the simulated provider: answer text that reads like an assistant's,
 * and values for a JSON schema (tool arguments, structured output) that validate against
 * simple schemas. Everything is drawn from the request's generator, so it is deterministic.
 */
import type { Rng } from './seed.js';

const OPENERS = ['Here is a short answer', 'In brief', 'Looking at this', 'A simulated reply', 'Summarizing the request'];

const SENTENCES = [
  'The gateway routed this call to the simulated backend, so no provider key was needed.',
  'Latency depends mostly on the number of tokens generated, not on the prompt.',
  'A retrieval step narrows the context before the model answers.',
  'Token usage is recorded on the span and rolled up per minute by model, team and key.',
  'Caching a long system prompt cuts both cost and time to first token.',
  'Each step of the agent run appears as its own span in the trace.',
  'Tool results are fed back to the model as messages with the tool role.',
  'Streaming returns the first tokens early, which keeps interfaces responsive.',
  'Costs are computed from the price table when the span reaches the collector.',
  'Errors and retries stay visible because every attempt is traced.',
  'Smaller models answer faster and cheaper when the task is narrow.',
  'Structured output keeps downstream parsing simple and testable.',
];

const CITIES = ['Paris', 'Berlin', 'Lisbon', 'Oslo', 'Tokyo', 'Toronto', 'Nairobi', 'Lima'];
const WORDS = ['alpha', 'beacon', 'cedar', 'delta', 'ember', 'fjord', 'granite', 'harbor', 'iris', 'juniper', 'kestrel', 'lumen'];

/** The first words of the text, for echoing a topic back. */
export function topicOf(text: string, words = 8): string {
  const w = text.replace(/\s+/g, ' ').trim().split(' ').filter(Boolean);
  const head = w.slice(0, words).join(' ');
  return w.length > words ? `${head}…` : head;
}

/** An answer of a few sentences about `topic`. */
export function answerText(rng: Rng, topic: string): string {
  const count = rng.int(2, 4);
  const parts = [`${rng.pick(OPENERS)}${topic ? ` on "${topic}"` : ''}:`];
  const used = new Set<number>();
  while (used.size < count) used.add(rng.int(0, SENTENCES.length - 1));
  for (const i of used) parts.push(SENTENCES[i]);
  return parts.join(' ');
}

/** The answer after a tool ran: it cites the tool and its result. */
export function afterToolText(rng: Rng, toolName: string, result: string): string {
  const gist = topicOf(result, 12);
  return `Based on ${toolName || 'the tool'}${gist ? ` (${gist})` : ''}: ${rng.pick(SENTENCES)} ${rng.pick(SENTENCES)}`;
}

type Schema = Record<string, unknown>;
const MAX_DEPTH = 4;

/** A value for a JSON schema; `hint` (the property name) steers string values; `words` seed free text. */
export function valueFor(schema: unknown, rng: Rng, ctx: { hint?: string; words: string[]; depth?: number }): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Schema;
  const depth = ctx.depth ?? 0;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return rng.pick(s.enum);
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants) && variants.length) {
    const concrete = variants.find((v) => (v as Schema)?.type !== 'null') ?? variants[0];
    return valueFor(concrete, rng, ctx);
  }
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? 'null') : (s.type ?? (s.properties ? 'object' : 'string'));
  switch (type) {
    case 'object':
      return depth >= MAX_DEPTH ? {} : objectFor(s, rng, { ...ctx, depth: depth + 1 });
    case 'array': {
      const min = num(s.minItems, 1);
      const max = Math.max(min, Math.min(num(s.maxItems, 3), min + 2));
      const n = depth >= MAX_DEPTH ? min : rng.int(min, max);
      return Array.from({ length: n }, () => valueFor(s.items, rng, { ...ctx, depth: depth + 1 }));
    }
    case 'integer':
    case 'number':
      return numberFor(s, rng, type === 'integer');
    case 'boolean':
      return rng.next() < 0.5;
    case 'null':
      return null;
    default:
      return stringFor(s, rng, ctx);
  }
}

function numberFor(s: Schema, rng: Rng, integer: boolean): number {
  const step = integer ? 1 : 0.01;
  const lo = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + step : 0;
  const hi = typeof s.maximum === 'number' ? s.maximum : typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum - step : lo + 100;
  const v = lo + rng.next() * Math.max(0, hi - lo);
  return integer ? Math.min(Math.floor(hi), Math.max(Math.ceil(lo), Math.round(v))) : Math.round(v * 100) / 100;
}

function objectFor(s: Schema, rng: Rng, ctx: { hint?: string; words: string[]; depth?: number }): Record<string, unknown> {
  const props = (s.properties ?? {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : Object.keys(props));
  const out: Record<string, unknown> = {};
  for (const [name, sub] of Object.entries(props)) {
    if (!required.has(name) && rng.next() < 0.5) continue;
    out[name] = valueFor(sub, rng, { ...ctx, hint: name });
  }
  return out;
}

function stringFor(s: Schema, rng: Rng, ctx: { hint?: string; words: string[] }): string {
  const hint = (ctx.hint ?? '').toLowerCase();
  let v: string;
  if (s.format === 'date-time') v = new Date(Date.UTC(2025, rng.int(0, 11), rng.int(1, 28), rng.int(0, 23))).toISOString();
  else if (s.format === 'date' || /date/.test(hint)) v = `2025-${pad(rng.int(1, 12))}-${pad(rng.int(1, 28))}`;
  else if (s.format === 'email' || /email/.test(hint)) v = `${rng.pick(WORDS)}@example.com`;
  else if (s.format === 'uri' || /url|link|uri/.test(hint)) v = `https://example.com/${rng.pick(WORDS)}`;
  else if (/city|location|place|destination/.test(hint)) v = rng.pick(CITIES);
  else if (/query|question|search|prompt|text|topic|q$/.test(hint)) v = ctx.words.slice(0, 6).join(' ') || rng.pick(WORDS);
  else if (/(^|_)id$|Id$/.test(ctx.hint ?? '')) v = `${rng.pick(WORDS)}-${rng.int(100, 999)}`;
  else v = `${rng.pick(WORDS)} ${rng.pick(WORDS)}`;
  const min = num(s.minLength, 0);
  const max = num(s.maxLength, Infinity);
  while (v.length < min) v += ` ${rng.pick(WORDS)}`;
  return v.length > max ? v.slice(0, max) : v;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
