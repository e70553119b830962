/**
 * What the OpenAI-compatible and Azure translators (chat and embeddings) share: the body rewrite
 * (model, and forced stream usage), reading facts from a `chat.completion`, and the translator.
 */
import { badUpstreamBody, fromOpenAIUpstream } from '../errors.js';
import { baseHeaders, isObject, parseObject, str } from '../shared.js';
import type {
  RequestOptions, ResponseContext, ResponseFacts, ResponseResult, StreamTranslator, Target, ToolCallOut, Translator,
} from '../types.js';
import { usageFromOpenAI } from '../usage.js';

/**
 * The client's body with only `model` replaced, and `stream_options.include_usage` forced on
 * streams when asked. Every other parameter passes untouched, unknown ones included.
 */
export function passthroughChatBody(body: Record<string, unknown>, model: string, opts: RequestOptions): string {
  const usageOnStream = body.stream === true && opts.forceUsageOnStream;
  // Nothing to change: the client's own bytes (re-serializing ~1 KB showed in gateway profiles).
  if (opts.rawBody !== undefined && body.model === model && !usageOnStream) return opts.rawBody;
  const out: Record<string, unknown> = { ...body, model };
  if (usageOnStream) {
    const so = isObject(body.stream_options) ? body.stream_options : {};
    out.stream_options = { ...so, include_usage: true };
  }
  return JSON.stringify(out);
}

function toolCallsOf(message: Record<string, unknown>): ToolCallOut[] | undefined {
  if (!Array.isArray(message.tool_calls) || message.tool_calls.length === 0) return undefined;
  return message.tool_calls.filter(isObject).map((tc) => {
    const fn = isObject(tc.function) ? tc.function : {};
    return { id: str(tc.id) ?? '', name: str(fn.name) ?? '', arguments: str(fn.arguments) ?? '' };
  });
}

export function chatCompletionFacts(json: Record<string, unknown>): ResponseFacts {
  const facts: ResponseFacts = {};
  if (str(json.id)) facts.id = json.id as string;
  if (str(json.model)) facts.responseModel = json.model as string;
  const usage = usageFromOpenAI(json.usage);
  if (usage) facts.usage = usage;
  const choices = Array.isArray(json.choices) ? json.choices.filter(isObject) : [];
  const finish = choices.map((c) => str(c.finish_reason)).filter((r): r is string => r !== undefined);
  if (finish.length > 0) facts.finishReasons = finish;
  const message = choices[0] && isObject(choices[0].message) ? choices[0].message : undefined;
  if (message) {
    const text = str(message.content) ?? str(message.refusal);
    if (text) facts.outputText = text;
    const calls = toolCallsOf(message);
    if (calls) facts.toolCalls = calls;
  }
  return facts;
}

/** A 2xx passthrough answer: the bytes go to the client unchanged; facts are read from them. */
export function passthroughResponse(bodyText: string, facts: (json: Record<string, unknown>) => ResponseFacts): ResponseResult {
  const json = parseObject(bodyText);
  if (!json) return { ok: false, error: badUpstreamBody('JSON body') };
  return { ok: true, body: bodyText, json, ...facts(json) };
}

/**
 * A translator for an OpenAI client and an OpenAI-shaped backend (OpenAI-compatible or Azure):
 * only the URL and the endpoint's facts differ between them.
 */
export function openAIShaped(spec: {
  endpoint: 'chat' | 'embeddings';
  backendKind: 'openai' | 'azure';
  url: (target: Target) => string;
  facts: (json: Record<string, unknown>) => ResponseFacts;
  stream: (ctx: ResponseContext) => StreamTranslator;
}): Translator {
  return {
    endpoint: spec.endpoint,
    clientApi: 'openai',
    backendKind: spec.backendKind,
    request(body, target, opts) {
      const stream = spec.endpoint === 'chat' && body.stream === true;
      return {
        ok: true,
        request: {
          method: 'POST',
          url: spec.url(target),
          headers: baseHeaders(target.backend, stream),
          body: passthroughChatBody(body, target.model, opts),
          stream,
        },
      };
    },
    response: (_status, bodyText) => passthroughResponse(bodyText, spec.facts),
    error: fromOpenAIUpstream,
    stream: spec.stream,
  };
}
