/**
 * Chat Completions, OpenAI client → Gemini `generateContent` / `streamGenerateContent?alt=sse`,
 * and the answer back. The same body serves the Gemini API and Gemini on Vertex AI; only the URL
 * differs (`openAIToGemini(kind, url)`). Request mapping: openai_gemini_contents.ts (messages)
 * and openai_gemini_params.ts (the rest); streaming: openai_gemini_stream.ts.
 *
 * Answer: each candidate is a choice (text parts joined, `functionCall` parts → `tool_calls`,
 * thoughts left out), finish reasons mapped (answer.ts), `usageMetadata` → usage (usage.ts:
 * cached content → `prompt_tokens_details.cached_tokens`, thoughts → `completion_tokens_details.
 * reasoning_tokens`, counted in the completion). A prompt blocked by the safety filters (no
 * candidates, `promptFeedback.blockReason`) is a 400 `content_filter`.
 */
import { badUpstreamBody } from '../../shared/errors.js';
import { answerObject, str } from '../../shared/helpers.js';
import { openAIUsageOf } from '../../shared/usage.js';
import type { ClientError, ProviderKind, ResponseContext, ResponseFacts, ResponseResult, Translator } from '../../types.js';
import { blockReasonOf, candidatesOf, type CandidateOut, finishReasonOf, readCandidate } from '../answer.js';
import { promptBlocked } from '../errors.js';
import { modelRequest, type ModelUrl } from '../options.js';
import { usageFromGemini } from '../usage.js';
import { convertMessages } from './openai_gemini_contents.js';
import { functionDeclarations, generationConfig, toolConfig } from './openai_gemini_params.js';
import { GeminiChatStream } from './openai_gemini_stream.js';

type Json = Record<string, unknown>;

/** The `generateContent` body for an OpenAI chat body. */
export function geminiBody(body: Json): { ok: true; value: Json } | { ok: false; error: ClientError } {
  const msgs = convertMessages(body.messages);
  if (!msgs.ok) return msgs;
  const config = generationConfig(body);
  if (!config.ok) return config;
  const decls = functionDeclarations(body);
  if (!decls.ok) return decls;
  const choice = toolConfig(body);
  if (!choice.ok) return choice;
  const out: Json = { contents: msgs.value.contents };
  if (msgs.value.system.length > 0) out.systemInstruction = { parts: msgs.value.system };
  if (decls.value) out.tools = [{ functionDeclarations: decls.value }];
  if (choice.value && decls.value) out.toolConfig = choice.value;
  if (config.value) out.generationConfig = config.value;
  return { ok: true, value: out };
}

function choiceOf(c: CandidateOut): Json {
  const message: Json = { role: 'assistant', content: c.text || (c.toolCalls.length > 0 ? null : ''), refusal: null };
  if (c.toolCalls.length > 0) {
    message.tool_calls = c.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
  }
  return { index: c.index, message, logprobs: null, finish_reason: finishReasonOf(c.finish, c.toolCalls.length > 0) };
}

export function translateAnswer(answer: Json, ctx: ResponseContext): ResponseResult {
  const cands = candidatesOf(answer);
  if (cands.length === 0) {
    const blocked = blockReasonOf(answer);
    return { ok: false, error: blocked ? promptBlocked(blocked) : badUpstreamBody('Gemini answer (no candidates)') };
  }
  const id = str(answer.responseId) ?? '';
  const outs = cands.map((c) => readCandidate(c, id)).sort((a, b) => a.index - b.index);
  if (outs.some((o) => o.unreadable)) return { ok: false, error: badUpstreamBody('Gemini answer (function arguments nested too deep)') };
  const choices = outs.map(choiceOf);
  const usage = usageFromGemini(answer.usageMetadata);
  const model = str(answer.modelVersion) ?? str(ctx.clientBody.model) ?? '';
  const json: Json = { id, object: 'chat.completion', created: Math.floor(ctx.nowMs / 1000), model, choices };
  if (usage) json.usage = openAIUsageOf(usage);
  const facts: ResponseFacts = { id, responseModel: model, finishReasons: choices.map((c) => c.finish_reason as string) };
  if (usage) facts.usage = usage;
  if (outs[0].text) facts.outputText = outs[0].text;
  if (outs[0].toolCalls.length > 0) facts.toolCalls = outs[0].toolCalls;
  return { ok: true, body: JSON.stringify(json), json, ...facts };
}

/** The OpenAI chat → Gemini translator for a provider whose model methods are at `url`. */
export function openAIToGemini(kind: ProviderKind, url: ModelUrl): Translator {
  return {
    endpoint: 'chat',
    clientApi: 'openai',
    backendKind: kind,
    request(body, target) {
      const built = geminiBody(body);
      if (!built.ok) return built;
      return modelRequest(url, target, body.stream === true ? 'streamGenerateContent' : 'generateContent', JSON.stringify(built.value));
    },
    response(_status, bodyText, ctx) {
      const answer = answerObject(bodyText, ctx);
      return answer ? translateAnswer(answer, ctx) : { ok: false, error: badUpstreamBody('Gemini answer') };
    },
    stream: (ctx) => new GeminiChatStream(ctx),
  };
}
