/**
 * One judge call through tracegate's own gateway, with the openai SDK: the evaluator's virtual
 * key, a traceparent of the evaluator's own trace (so the call's tokens never join the scored
 * trace), a timeout, no SDK retries (the runner retries, counting each try). Failures are
 * results with a stable type, not exceptions.
 */
import { randomBytes } from 'node:crypto';
import { TraceFlags } from '@opentelemetry/api';
import OpenAI from 'openai';
import { formatTraceparent } from '../../common/trace-context.js';
import { estimatePromptTokens } from '../../gateway/tokenizer.js';
import { computeCost, indexPrices, loadPriceTable, type PriceIndex } from '../../schemas/prices.js';

export type JudgeFailure = 'timeout' | 'refused_budget' | 'rate_limited' | 'refused' | 'judge_error' | 'unreachable';

export interface JudgeSpend {
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export type JudgeAnswer = ({ ok: true; text: string; model: string } & JudgeSpend) | ({ ok: false; failure: JudgeFailure; message: string } & JudgeSpend);

export interface JudgeRequest {
  baseURL: string;
  apiKey?: string;
  model: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  timeoutMs: number;
  /** The evaluator's trace for this call (32 hex digits). */
  traceId: string;
  evaluator: string;
}

let prices: PriceIndex | undefined;
function priceIndex(): PriceIndex {
  prices ??= indexPrices(loadPriceTable());
  return prices;
}

/** USD of a judge call, from the price table (0 for a model it does not list). */
export function judgeCost(model: string, promptTokens: number, completionTokens: number): number {
  const p = priceIndex().find(model);
  return p ? computeCost(p, { prompt: promptTokens, completion: completionTokens }).total : 0;
}

/**
 * USD a judge call can cost at most: its prompt's tokens as the gateway estimates a request's
 * (the estimate its own budget admission reserves by) and all of `maxTokens` out, at the model's
 * prices. What an evaluator's budget sets aside before the call.
 */
export function judgeWorstCase(model: string, prompt: string, maxTokens: number): number {
  return judgeCost(model, estimatePromptTokens(judgeBody(model, prompt, maxTokens)), maxTokens);
}

/** The chat request of a judge call (without temperature, which does not change its tokens). */
function judgeBody(model: string, prompt: string, maxTokens: number) {
  return { model, messages: [{ role: 'user' as const, content: prompt }], max_tokens: maxTokens };
}

export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

const clients = new Map<string, OpenAI>();
function client(baseURL: string, apiKey: string | undefined): OpenAI {
  const k = `${baseURL}\u0000${apiKey ?? ''}`;
  let c = clients.get(k);
  if (!c) {
    // The gateway needs some bearer when no key is configured (authentication off): it ignores it then.
    c = new OpenAI({ baseURL, apiKey: apiKey ?? 'tracegate-evaluator', maxRetries: 0 });
    if (clients.size > 64) clients.clear();
    clients.set(k, c);
  }
  return c;
}

function failureOf(err: unknown): { failure: JudgeFailure; message: string } {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { failure: 'timeout', message: 'the judge did not answer in time' };
  if (err instanceof OpenAI.APIConnectionError) return { failure: 'unreachable', message: `the gateway cannot be reached: ${err.message.slice(0, 200)}` };
  if (err instanceof OpenAI.APIError) {
    const code = String(err.code ?? '');
    const message = `the gateway answered ${err.status ?? '?'}${code ? ` ${code}` : ''}`;
    if (code === 'insufficient_quota') return { failure: 'refused_budget', message };
    if (err.status === 429) return { failure: 'rate_limited', message };
    if (err.status === 401 || err.status === 403) return { failure: 'refused', message };
    return { failure: 'judge_error', message };
  }
  if ((err as Error)?.name === 'AbortError') return { failure: 'timeout', message: 'the judge did not answer in time' };
  return { failure: 'judge_error', message: (err as Error)?.message?.slice(0, 200) ?? 'unknown error' };
}

export async function askJudge(r: JudgeRequest): Promise<JudgeAnswer> {
  const none = { promptTokens: 0, completionTokens: 0, costUsd: 0 };
  try {
    const res = await client(r.baseURL, r.apiKey).chat.completions.create(
      { ...judgeBody(r.model, r.prompt, r.maxTokens), temperature: r.temperature },
      { timeout: r.timeoutMs, headers: { ...formatTraceparent({ traceId: r.traceId, spanId: randomBytes(8).toString('hex'), traceFlags: TraceFlags.SAMPLED }) } },
    );
    const promptTokens = res.usage?.prompt_tokens ?? 0;
    const completionTokens = res.usage?.completion_tokens ?? 0;
    const model = res.model || r.model;
    const spend = { promptTokens, completionTokens, costUsd: judgeCost(model, promptTokens, completionTokens) };
    const text = res.choices?.[0]?.message?.content;
    if (typeof text !== 'string') return { ok: false, failure: 'judge_error', message: 'the judge answered no text', ...spend };
    return { ok: true, text, model, ...spend };
  } catch (err) {
    return { ok: false, ...failureOf(err), ...none };
  }
}
