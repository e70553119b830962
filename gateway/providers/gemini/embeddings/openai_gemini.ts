/**
 * Embeddings, OpenAI client → Google: the Gemini API's `:batchEmbedContents` (one request per
 * input, `{embeddings: [{values}]}` back) or Vertex AI's `:predict` (one instance per input,
 * `{predictions: [{embeddings: {values, statistics: {token_count}}}]}` back).
 *
 * `input` is a string or a list of strings (token-id inputs have no Google equivalent: 400);
 * `dimensions` → `outputDimensionality`; `encoding_format: "base64"` (the openai SDK's default)
 * is honoured by encoding the floats as little-endian float32, as OpenAI does. Usage: Vertex's
 * token counts summed; the Gemini API reports none (the gateway's tokenizer estimates it).
 */
import { badUpstreamBody, invalidParam } from '../../shared/errors.js';
import { answerObject, isObject, num, str } from '../../shared/helpers.js';
import { PassthroughStream, observeNothing } from '../../shared/passthrough_stream.js';
import type { ClientError, ProviderKind, ResponseFacts, ResponseResult, Translator, Usage } from '../../types.js';
import { modelPath, modelRequest, type ModelUrl } from '../options.js';
import { usageFromGemini } from '../usage.js';

type Json = Record<string, unknown>;

/** `batch`: the Gemini API's batchEmbedContents; `predict`: Vertex AI's predict. */
export type EmbedStyle = 'batch' | 'predict';

function inputs(body: Json): { ok: true; value: string[] } | { ok: false; error: ClientError } {
  const input = body.input;
  if (typeof input === 'string') return { ok: true, value: [input] };
  if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === 'string')) return { ok: true, value: input as string[] };
  return { ok: false, error: invalidParam('input', 'must be a string or a non-empty array of strings for google backends (token ids are not supported)') };
}

function dimensions(body: Json): { ok: true; value: number | undefined } | { ok: false; error: ClientError } {
  const d = body.dimensions;
  if (d === undefined || d === null) return { ok: true, value: undefined };
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) return { ok: false, error: invalidParam('dimensions', 'must be a positive integer') };
  return { ok: true, value: d };
}

function requestBody(style: EmbedStyle, model: string, texts: string[], dims: number | undefined): Json {
  if (style === 'predict') {
    const out: Json = { instances: texts.map((content) => ({ content })) };
    if (dims !== undefined) out.parameters = { outputDimensionality: dims };
    return out;
  }
  const path = modelPath(model);
  const name = `${path?.[0] ?? 'models'}/${path?.[1] ?? model}`;
  return {
    requests: texts.map((text) => {
      const r: Json = { model: name, content: { parts: [{ text }] } };
      if (dims !== undefined) r.outputDimensionality = dims;
      return r;
    }),
  };
}

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: "base64"`. */
export function base64Floats(values: number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  for (const [i, v] of values.entries()) buf.writeFloatLE(v, i * 4);
  return buf.toString('base64');
}

/** The vectors of an answer, and Vertex's token count; undefined when the answer has none. */
function vectors(style: EmbedStyle, answer: Json): { values: number[][]; tokens?: number } | undefined {
  const list = style === 'predict' ? answer.predictions : answer.embeddings;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const values: number[][] = [];
  let tokens: number | undefined;
  for (const item of list) {
    const e = style === 'predict' && isObject(item) ? item.embeddings : item;
    if (!isObject(e) || !Array.isArray(e.values) || !e.values.every((v) => typeof v === 'number')) return undefined;
    values.push(e.values as number[]);
    const count = isObject(e.statistics) ? num(e.statistics.token_count) : undefined;
    if (count !== undefined) tokens = (tokens ?? 0) + count;
  }
  return { values, tokens };
}

function usageOf(answer: Json, tokens: number | undefined): Usage | undefined {
  if (tokens !== undefined) return { promptTokens: tokens, completionTokens: 0, totalTokens: tokens };
  return usageFromGemini(answer.usageMetadata);
}

export function openAIToGeminiEmbeddings(kind: ProviderKind, url: ModelUrl, style: EmbedStyle): Translator {
  return {
    endpoint: 'embeddings',
    clientApi: 'openai',
    backendKind: kind,
    request(body, target) {
      const texts = inputs(body);
      if (!texts.ok) return texts;
      const dims = dimensions(body);
      if (!dims.ok) return dims;
      const payload = requestBody(style, target.model, texts.value, dims.value);
      return modelRequest(url, target, style === 'predict' ? 'predict' : 'batchEmbedContents', JSON.stringify(payload));
    },
    response(_status, bodyText, ctx): ResponseResult {
      const answer = answerObject(bodyText, ctx);
      const got = answer && vectors(style, answer);
      if (!answer || !got) return { ok: false, error: badUpstreamBody('embeddings answer') };
      const base64 = ctx.clientBody.encoding_format === 'base64';
      const data = got.values.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? base64Floats(v) : v }));
      const model = str(ctx.clientBody.model) ?? '';
      const json: Json = { object: 'list', data, model };
      const usage = usageOf(answer, got.tokens);
      if (usage) json.usage = { prompt_tokens: usage.promptTokens, total_tokens: usage.totalTokens };
      const facts: ResponseFacts = {};
      if (usage) facts.usage = usage;
      return { ok: true, body: JSON.stringify(json), json, ...facts };
    },
    stream: () => new PassthroughStream(observeNothing, () => undefined),
  };
}
