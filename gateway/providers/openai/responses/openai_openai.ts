/**
 * Responses API (`POST /v1/responses`), OpenAI client → OpenAI-compatible server: a passthrough
 * with `model` replaced. Facts for telemetry come from the `response` object (non-streaming) or
 * from the typed events of a stream (`response.output_text.delta`, `response.output_item.done`,
 * and the final `response.completed` / `response.incomplete` / `response.failed`, which carries
 * usage). Finish reasons are the response `status`, or the incomplete reason.
 */
import { passthroughResponse } from '../chat/openai_common.js';
import { openaiError } from '../../shared/errors.js';
import { type Observer, PassthroughStream } from '../../shared/passthrough_stream.js';
import { baseHeaders, isObject, joinUrl, keepOutput, parseObject, str } from '../../shared/helpers.js';
import type { ResponseFacts, ToolCallOut, Translator } from '../../types.js';
import { usageFromResponses } from '../../shared/usage.js';

function outputOf(output: unknown): { text: string; calls: ToolCallOut[] } {
  const out = { text: '', calls: [] as ToolCallOut[] };
  if (!Array.isArray(output)) return out;
  for (const item of output) {
    if (!isObject(item)) continue;
    if (item.type === 'function_call') out.calls.push(functionCall(item));
    if (item.type !== 'message' || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (isObject(part)) out.text += str(part.text) ?? str(part.refusal) ?? '';
    }
  }
  return out;
}

function functionCall(item: Record<string, unknown>): ToolCallOut {
  return { id: str(item.call_id) ?? str(item.id) ?? '', name: str(item.name) ?? '', arguments: str(item.arguments) ?? '' };
}

/** Facts of a `response` object, without its output (streams accumulate that from deltas). */
function headFacts(resp: Record<string, unknown>): ResponseFacts {
  const facts: ResponseFacts = {};
  if (str(resp.id)) facts.id = resp.id as string;
  if (str(resp.model)) facts.responseModel = resp.model as string;
  const usage = usageFromResponses(resp.usage);
  if (usage) facts.usage = usage;
  const status = str(resp.status);
  const reason = isObject(resp.incomplete_details) ? str(resp.incomplete_details.reason) : undefined;
  if (reason || (status && status !== 'in_progress' && status !== 'queued')) facts.finishReasons = [reason ?? (status as string)];
  return facts;
}

export function responseFacts(resp: Record<string, unknown>): ResponseFacts {
  const facts = headFacts(resp);
  const { text, calls } = outputOf(resp.output);
  if (text) facts.outputText = text;
  if (calls.length > 0) facts.toolCalls = calls;
  return facts;
}

const FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export const observeResponses: Observer = (data, _ev, state) => {
  if (!data) return false;
  const type = str(data.type) ?? '';
  if (type === 'response.output_text.delta' || type === 'response.refusal.delta') {
    state.text = keepOutput(state.text, str(data.delta) ?? '');
    return true;
  }
  if (type === 'response.function_call_arguments.delta') return true;
  if (type === 'response.output_item.done' && isObject(data.item) && data.item.type === 'function_call') {
    state.calls.push(functionCall(data.item));
    return true;
  }
  if (type === 'error') {
    state.error = openaiError(500, str(data.message) ?? 'upstream stream error', { code: str(data.code) ?? null });
    return false;
  }
  if (!isObject(data.response)) return false;
  if (type === 'response.created' || FINAL.has(type)) Object.assign(state.facts, headFacts(data.response));
  if (type === 'response.failed') {
    const e = isObject(data.response.error) ? data.response.error : {};
    state.error = openaiError(500, str(e.message) ?? 'the response failed', { code: str(e.code) ?? null });
  }
  return false;
};

export const responsesOpenAIOpenAI: Translator = {
  endpoint: 'responses',
  clientApi: 'openai',
  backendKind: 'openai',
  request(body, target) {
    const stream = body.stream === true;
    return {
      ok: true,
      request: {
        method: 'POST',
        url: joinUrl(target.backend.baseUrl, '/responses'),
        headers: baseHeaders(target.backend, stream),
        body: JSON.stringify({ ...body, model: target.model }),
        stream,
      },
    };
  },
  response: (_status, bodyText, ctx) => passthroughResponse(bodyText, responseFacts, ctx),
  stream: () => new PassthroughStream(observeResponses, parseObject),
};
