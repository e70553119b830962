/**
 * What the OpenAI-compatible and Azure translators (chat and embeddings) share: the body rewrite
 * (model, and forced stream usage), reading facts from a `chat.completion`, and the translator.
 */
import { badUpstreamBody } from '../../shared/errors.js';
import { answerObject, baseHeaders, isObject, str } from '../../shared/helpers.js';
import type { RequestOptions, ResponseContext, ResponseFacts, ResponseResult, StreamTranslator, Target, ToolCallOut, Translator } from '../../types.js';
import { usageFromOpenAI } from '../../shared/usage.js';

const USAGE_OPTION = Buffer.from('"stream_options":{"include_usage":true},');
const isJsonSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** A JSON object's bytes with `"stream_options":{"include_usage":true}` as its first member (undefined: not an object with members). */
function withUsageOption(bytes: Buffer): Buffer | undefined {
  let i = 0;
  while (i < bytes.length && isJsonSpace(bytes[i])) i++;
  if (bytes[i] !== 0x7b) return undefined;
  let j = i + 1;
  while (j < bytes.length && isJsonSpace(bytes[j])) j++;
  if (j >= bytes.length || bytes[j] === 0x7d) return undefined;
  return Buffer.concat([bytes.subarray(0, i + 1), USAGE_OPTION, bytes.subarray(i + 1)]);
}

/**
 * The client's body with only `model` replaced, and `stream_options.include_usage` forced on
 * streams when asked. Every other parameter passes untouched, unknown ones included.
 */
export function passthroughChatBody(body: Record<string, unknown>, model: string, opts: RequestOptions): string | Buffer {
  const usageOnStream = body.stream === true && opts.forceUsageOnStream;
  if (opts.rawBody !== undefined && body.model === model) {
    // Nothing to change: the client's own text or bytes (re-serializing ~1 KB showed in gateway profiles).
    if (!usageOnStream) return opts.rawBytes ?? opts.rawBody;
    // A large body without stream_options: the option goes in front of the client's bytes
    // (serializing and encoding MBs again held the event loop for tens of ms).
    const spliced = opts.rawBytes && !('stream_options' in body) ? withUsageOption(opts.rawBytes) : undefined;
    if (spliced) return spliced;
  }
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
export function passthroughResponse(bodyText: string, facts: (json: Record<string, unknown>) => ResponseFacts, ctx?: ResponseContext): ResponseResult {
  const json = answerObject(bodyText, ctx);
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
    response: (_status, bodyText, ctx) => passthroughResponse(bodyText, spec.facts, ctx),
    stream: spec.stream,
  };
}
