/**
 * The native passthrough (`POST /v1beta/models/{model}:generateContent` and
 * `:streamGenerateContent` on the gateway), Gemini SDK client → Gemini API or Gemini on Vertex.
 * The body goes upstream as the client sent it; the model (routed) is in the URL. The handler
 * puts the path's model and whether it streams into the client body as `model` and `stream`
 * (for routing, policy and telemetry); they are not Gemini fields and are never sent.
 *
 * Answers and stream events pass as they came; facts are read from them in Gemini's words
 * (finish reasons STOP, MAX_TOKENS, …). Errors keep Google's envelope.
 */
import { PassthroughStream, type StreamState } from '../../shared/passthrough_stream.js';
import { answerObject, keepOutput, parseObject, str } from '../../shared/helpers.js';
import type { ProviderKind, ResponseFacts, ResponseResult, SseEvent, Translator } from '../../types.js';
import { candidatesOf, readCandidate } from '../answer.js';
import { geminiError, googleStreamError } from '../errors.js';
import { modelRequest, type ModelUrl } from '../options.js';
import { usageFromGemini } from '../usage.js';

type Json = Record<string, unknown>;

/** What one answer (or stream chunk) says about candidate 0 and the whole. */
function noteAnswer(answer: Json, state: StreamState): boolean {
  const f = state.facts;
  f.id ??= str(answer.responseId);
  f.responseModel = str(answer.modelVersion) ?? f.responseModel;
  f.usage = usageFromGemini(answer.usageMetadata) ?? f.usage;
  if (f.id === undefined) delete f.id;
  if (f.responseModel === undefined) delete f.responseModel;
  if (f.usage === undefined) delete f.usage;
  let content = false;
  for (const c of candidatesOf(answer)) {
    const out = readCandidate(c, f.id ?? '', state.calls.length);
    if (out.finish) (f.finishReasons ??= [])[out.index] = out.finish;
    if (out.text || out.toolCalls.length > 0) content = true;
    if (out.index !== 0) continue;
    state.text = keepOutput(state.text, out.text);
    state.calls.push(...out.toolCalls);
  }
  if (f.finishReasons) f.finishReasons = f.finishReasons.filter(Boolean);
  return content;
}

export function generateFacts(answer: Json): ResponseFacts {
  const state: StreamState = { facts: {}, text: '', calls: [] };
  noteAnswer(answer, state);
  const facts = state.facts;
  if (state.text) facts.outputText = state.text;
  if (state.calls.length > 0) facts.toolCalls = state.calls;
  return facts;
}

function observe(data: Json | undefined, _ev: SseEvent, state: StreamState): boolean {
  if (!data) return false;
  if (data.error !== undefined && data.error !== null) {
    state.error = googleStreamError(data, 'gemini');
    return false;
  }
  return noteAnswer(data, state);
}

/** The Gemini → Gemini passthrough for a provider whose model methods are at `url`. */
export function geminiPassthrough(kind: ProviderKind, url: ModelUrl): Translator {
  return {
    endpoint: 'generate',
    clientApi: 'gemini',
    backendKind: kind,
    request(body, target, opts) {
      const { model: _model, stream, ...rest } = body;
      const payload = opts.rawBytes ?? opts.rawBody ?? JSON.stringify(rest);
      return modelRequest(url, target, stream === true ? 'streamGenerateContent' : 'generateContent', payload, (e) => geminiError(400, e.message));
    },
    response(_status, bodyText, ctx): ResponseResult {
      const answer = answerObject(bodyText, ctx);
      if (!answer) return { ok: false, error: geminiError(502, 'upstream returned an unreadable Gemini answer') };
      return { ok: true, body: bodyText, json: answer, ...generateFacts(answer) };
    },
    stream: () => new PassthroughStream(observe, parseObject),
  };
}
