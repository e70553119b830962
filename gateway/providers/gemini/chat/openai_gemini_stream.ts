/**
 * A Gemini `streamGenerateContent?alt=sse` stream → OpenAI `chat.completion.chunk` frames, one
 * object per request. Every upstream event is a whole `GenerateContentResponse` holding the next
 * piece of each candidate; `usageMetadata` is cumulative (the last one counts).
 *
 *   a candidate seen first        → role chunk (`delta: {role: "assistant", content: ""}`) for its index
 *   text parts                    → content delta (thoughts left out)
 *   functionCall parts            → a tool_call delta each, whole: index, id, name, arguments
 *   finishReason                  → finish chunk (`delta: {}`, mapped; `tool_calls` after calls)
 *   end of the upstream stream    → usage chunk (`choices: []`) when the client asked, then `data: [DONE]`
 *   `{"error": {...}}`            → `data: {"error": {...}}` in OpenAI's envelope, no [DONE]
 *   no candidates, `promptFeedback.blockReason` → a content_filter error frame, no [DONE]
 *
 * A stream that ends before every candidate it started has finished, without an error, gets an
 * error frame, never a [DONE]: a client must not take a cut answer for a whole one.
 */
import { SSE_DONE_FRAME, sseFrame } from '../../../sse.js';
import { badUpstreamBody, openaiError } from '../../shared/errors.js';
import { keepOutput, parseObject, str } from '../../shared/helpers.js';
import { openAIUsageOf } from '../../shared/usage.js';
import type { ClientError, ResponseContext, ResponseFacts, SseEvent, StreamTranslator, ToolCallOut, Usage } from '../../types.js';
import { clientWantsStreamUsage } from '../../openai/chat/openai_stream.js';
import { blockReasonOf, candidatesOf, finishReasonOf, readCandidate } from '../answer.js';
import { googleStreamError, promptBlocked } from '../errors.js';
import { usageFromGemini } from '../usage.js';

type Json = Record<string, unknown>;

interface CandidateState {
  calls: number;
  finish?: string;
}

export class GeminiChatStream implements StreamTranslator {
  firstContentSeen = false;
  streamError?: ClientError;
  private readonly clientWantsUsage: boolean;
  private readonly created: number;
  private id = '';
  private model: string;
  private usage: Usage | undefined;
  private text = '';
  private readonly calls: ToolCallOut[] = [];
  private readonly candidates = new Map<number, CandidateState>();

  constructor(ctx: ResponseContext) {
    this.clientWantsUsage = clientWantsStreamUsage(ctx.clientBody);
    this.created = Math.floor(ctx.nowMs / 1000);
    this.model = str(ctx.clientBody.model) ?? '';
  }

  get facts(): ResponseFacts {
    const f: ResponseFacts = {};
    if (this.id) f.id = this.id;
    if (this.model) f.responseModel = this.model;
    if (this.usage) f.usage = this.usage;
    const finish = [...this.candidates.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => c.finish)
      .filter((r): r is string => r !== undefined);
    if (finish.length > 0) f.finishReasons = finish;
    if (this.text) f.outputText = this.text;
    if (this.calls.length > 0) f.toolCalls = this.calls.map((c) => ({ ...c }));
    return f;
  }

  push(ev: SseEvent): string[] {
    if (this.streamError) return [];
    const data = parseObject(ev.data);
    if (!data) return [];
    if (data.error !== undefined && data.error !== null) return this.fail(googleStreamError(data, 'openai'));
    this.id ||= str(data.responseId) ?? '';
    this.model = str(data.modelVersion) ?? this.model;
    this.usage = usageFromGemini(data.usageMetadata) ?? this.usage;
    const cands = candidatesOf(data);
    if (cands.length === 0) {
      const blocked = blockReasonOf(data);
      return blocked ? this.fail(promptBlocked(blocked)) : [];
    }
    const frames: string[] = [];
    for (const c of cands) frames.push(...this.onCandidate(c));
    return frames;
  }

  end(): string[] {
    if (this.streamError) return [];
    const states = [...this.candidates.values()];
    if (states.length === 0 || states.some((s) => s.finish === undefined)) {
      return this.fail(openaiError(502, 'the upstream stream ended before the answer was complete', { type: 'upstream_error', code: 'incomplete_stream' }));
    }
    const frames: string[] = [];
    if (this.clientWantsUsage && this.usage) frames.push(this.chunk([], openAIUsageOf(this.usage)));
    frames.push(SSE_DONE_FRAME);
    return frames;
  }

  private onCandidate(c: Json): string[] {
    const index = typeof c.index === 'number' ? c.index : 0;
    let state = this.candidates.get(index);
    const frames: string[] = [];
    if (!state) {
      state = { calls: 0 };
      this.candidates.set(index, state);
      frames.push(this.delta(index, { role: 'assistant', content: '', refusal: null }));
    }
    const out = readCandidate(c, this.id, state.calls);
    if (out.unreadable) return [...frames, ...this.fail(badUpstreamBody('Gemini stream chunk (function arguments nested too deep)'))];
    if (out.text) {
      if (index === 0) this.text = keepOutput(this.text, out.text);
      this.firstContentSeen = true;
      frames.push(this.delta(index, { content: out.text }));
    }
    for (const [k, call] of out.toolCalls.entries()) {
      if (index === 0) this.calls.push(call);
      this.firstContentSeen = true;
      const delta = { index: state.calls + k, id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
      frames.push(this.delta(index, { tool_calls: [delta] }));
    }
    state.calls += out.toolCalls.length;
    if (out.finish !== undefined && state.finish === undefined) {
      state.finish = finishReasonOf(out.finish, state.calls > 0);
      frames.push(this.chunk([{ index, delta: {}, logprobs: null, finish_reason: state.finish }]));
    }
    return frames;
  }

  private chunk(choices: Json[], usage?: Json): string {
    const c: Json = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
    if (usage) c.usage = usage;
    else if (this.clientWantsUsage) c.usage = null;
    return sseFrame(JSON.stringify(c));
  }

  private delta(index: number, delta: Json): string {
    return this.chunk([{ index, delta, logprobs: null, finish_reason: null }]);
  }

  private fail(error: ClientError): string[] {
    this.streamError = error;
    return [sseFrame(JSON.stringify(error.body))];
  }
}
