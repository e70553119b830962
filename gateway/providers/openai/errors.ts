/** An OpenAI-compatible upstream's errors (OpenAI, Azure OpenAI, vLLM, Ollama, …) for an OpenAI client. */
import { fallbackMessage, logSummary, openaiError, openaiTypeFor, retryAfterMs } from '../shared/errors.js';
import { isObject, parseObject, str } from '../shared/helpers.js';
import type { ClientError, HeaderSource } from '../types.js';

/** An OpenAI-compatible upstream's error for an OpenAI client: its envelope is kept when well formed. */
export function fromOpenAIUpstream(status: number, bodyText: string, headers?: HeaderSource): ClientError {
  const parsed = parseObject(bodyText);
  const e = parsed && isObject(parsed.error) ? parsed.error : undefined;
  // OpenAI's envelope; Ollama's `{error: "…"}`; vLLM's older top-level `{message, type, code}`.
  const message = str(e?.message) ?? (typeof parsed?.error === 'string' ? parsed.error : str(parsed?.message));
  const code = e?.code;
  const err = openaiError(status, message ?? fallbackMessage(status), {
    type: str(e?.type) ?? openaiTypeFor(status),
    code: typeof code === 'string' ? code : typeof code === 'number' ? String(code) : null,
    param: str(e?.param) ?? null,
    retryAfterMs: retryAfterMs(headers),
  });
  if (message === undefined) err.message = logSummary(status, bodyText);
  return err;
}
