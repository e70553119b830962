/**
 * OpenAI chat parameters every translation to another API reads the same way: the output token
 * limit and the stop sequences. A bad value is a 400 naming the parameter.
 */
import type { ClientError } from '../types.js';
import { invalidParam } from './errors.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: ClientError };

/** `max_completion_tokens`, else `max_tokens` (a positive integer); undefined when neither is given. */
export function maxTokens(body: Record<string, unknown>): Result<number | undefined> {
  for (const key of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return { ok: false, error: invalidParam(key, 'must be a positive integer') };
    return { ok: true, value: v };
  }
  return { ok: true, value: undefined };
}

/** `stop` as a list (a string is a list of one); undefined when not given. */
export function stopSequences(stop: unknown): Result<string[] | undefined> {
  if (stop === undefined || stop === null) return { ok: true, value: undefined };
  if (typeof stop === 'string') return { ok: true, value: [stop] };
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return { ok: true, value: stop as string[] };
  return { ok: false, error: invalidParam('stop', 'must be a string or an array of strings') };
}
