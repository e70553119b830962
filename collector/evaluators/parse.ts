/**
 * Reads a judge's answer: a JSON object ({"label"|"score", "explanation"}, also inside a
 * ```json fence or after some text), or a bare label / number. Anything else is a parse error,
 * which the runner retries and then records as an evaluation error: a judge answering garbage
 * never becomes a score.
 */
import type { Rubric } from './templates.js';

export interface Verdict {
  score: number;
  label: string;
  explanation: string;
  passed: boolean;
}

export type ParseResult = { ok: true; verdict: Verdict } | { ok: false; reason: string };

/** Characters of an explanation kept. */
const MAX_EXPLANATION = 2000;

function jsonObject(text: string): Record<string, unknown> | undefined {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(text)?.[1];
  const candidates = [text.trim(), fenced?.trim(), text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)];
  for (const c of candidates) {
    if (!c?.startsWith('{')) continue;
    try {
      const v = JSON.parse(c);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* the next candidate */
    }
  }
  return undefined;
}

/** The rubric's label the text names: exact (case-insensitive), else the only label found as a whole word. */
function findLabel(text: string, labels: readonly string[]): string | undefined {
  const t = text
    .trim()
    .toLowerCase()
    .replace(/^["'`*]+|["'`*.!]+$/g, '');
  const exact = labels.find((l) => l.toLowerCase() === t);
  if (exact) return exact;
  // Longest first, and a found label's text removed, so "non-toxic" is not also read as "toxic".
  let rest = ` ${text.toLowerCase()} `;
  const found: string[] = [];
  for (const l of [...labels].sort((a, b) => b.length - a.length)) {
    const re = new RegExp(`(^|[^a-z0-9-])${l.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[^a-z0-9-])`, 'g');
    if (re.test(rest)) {
      found.push(l);
      rest = rest.replace(re, '$1 ');
    }
  }
  return found.length === 1 ? found[0] : undefined;
}

function passes(rubric: Rubric, score: number, label: string): boolean {
  return 'labels' in rubric.pass ? rubric.pass.labels.includes(label) : score >= rubric.pass.atLeast;
}

/** `label` is one of `scores`' keys. */
function fromLabel(rubric: Rubric, scores: Readonly<Record<string, number>>, label: string, explanation: string): ParseResult {
  const score = scores[label];
  return { ok: true, verdict: { score, label, explanation, passed: passes(rubric, score, label) } };
}

function fromScore(rubric: Rubric, s: { min: number; max: number }, raw: unknown, explanation: string): ParseResult {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n)) return { ok: false, reason: 'the answer holds no number' };
  if (n < s.min || n > s.max) return { ok: false, reason: `the score ${n} is outside ${s.min}..${s.max}` };
  return { ok: true, verdict: { score: n, label: '', explanation, passed: passes(rubric, n, '') } };
}

export function parseVerdict(rubric: Rubric, text: string): ParseResult {
  if (!text.trim()) return { ok: false, reason: 'the judge answered nothing' };
  const obj = jsonObject(text);
  const explanation = (typeof obj?.explanation === 'string' ? obj.explanation : obj ? '' : '').slice(0, MAX_EXPLANATION);
  const { scale } = rubric;
  if (scale) {
    if (obj) return fromScore(rubric, scale, obj.score ?? obj.rating ?? obj.label, explanation);
    const m = /^\s*(-?\d+(?:\.\d+)?)\b/.exec(text);
    return fromScore(rubric, scale, m ? Number(m[1]) : undefined, '');
  }
  const scores = rubric.labels ?? {};
  const labels = Object.keys(scores);
  if (obj) {
    const raw = obj.label ?? obj.classification ?? obj.answer;
    const label = typeof raw === 'string' ? findLabel(raw, labels) : undefined;
    if (!label) return { ok: false, reason: `the answer's label is not one of ${labels.join(', ')}` };
    return fromLabel(rubric, scores, label, explanation);
  }
  const label = findLabel(text, labels);
  if (!label) return { ok: false, reason: `the answer names none (or several) of ${labels.join(', ')}` };
  return fromLabel(rubric, scores, label, '');
}
