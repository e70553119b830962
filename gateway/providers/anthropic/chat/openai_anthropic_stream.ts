/**
 * An Anthropic Messages stream → OpenAI `chat.completion.chunk` frames, one object per request.
 *
 *   message_start        → role chunk (`delta: {role: "assistant", content: ""}`); id, model, input usage
 *   content_block_start  → text: nothing (or its text); tool_use: a tool_call delta with index, id, name
 *   content_block_delta  → text_delta: content delta; input_json_delta: tool_call arguments delta
 *                          (for the tool forcing a json_schema answer: content delta)
 *   message_delta        → finish chunk (`delta: {}`, finish_reason); output usage
 *   message_stop         → usage chunk (`choices: []`) when the client asked, then `data: [DONE]`
 *   ping, thinking deltas and unknown events → nothing
 *   error                → `data: {"error": {...}}` (what the openai SDK raises on), no [DONE]
 *
 * A stream that ends before `message_stop` without an error gets an error frame, never a [DONE]:
 * a client must not take a cut answer for a whole one.
 */
import { SSE_DONE_FRAME, sseFrame } from '../../../sse.js';
import { openaiError } from '../../shared/errors.js';
import { anthropicStreamError } from '../errors.js';
import { isObject, keepOutput, parseObject, str } from '../../shared/helpers.js';
import type { ClientError, ResponseContext, ResponseFacts, SseEvent, StreamTranslator, ToolCallOut } from '../../types.js';
import { openAIUsageOf } from '../../shared/usage.js';
import { type AnthropicCounters, mergeAnthropicCounters, usageFromAnthropic } from '../usage.js';
import { forcedJsonTool } from './openai_anthropic_params.js';
import { clientWantsStreamUsage } from '../../openai/chat/openai_stream.js';

type Json = Record<string, unknown>;
const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic stop reason → OpenAI finish reason. A forced JSON tool's `tool_use` is a normal stop. */
export function finishReasonOf(stopReason: unknown, forcedJson: boolean): string {
  const r = str(stopReason);
  if (r === 'tool_use' && forcedJson) return 'stop';
  return (r && FINISH[r]) ?? 'stop';
}

type BlockKind = { kind: 'text' } | { kind: 'json' } | { kind: 'tool'; toolIndex: number } | { kind: 'other' };

export class AnthropicChatStream implements StreamTranslator {
  firstContentSeen = false;
  streamError?: ClientError;
  private readonly clientWantsUsage: boolean;
  private readonly forcedName: string | undefined;
  private readonly created: number;
  private id = '';
  private model = '';
  private started = false;
  private finished = false;
  private counters: AnthropicCounters = {};
  private finish: string | undefined;
  private text = '';
  private readonly calls: ToolCallOut[] = [];
  private readonly blocks = new Map<number, BlockKind>();

  constructor(ctx: ResponseContext) {
    this.clientWantsUsage = clientWantsStreamUsage(ctx.clientBody);
    this.forcedName = forcedJsonTool(ctx.clientBody)?.name;
    this.created = Math.floor(ctx.nowMs / 1000);
  }

  get facts(): ResponseFacts {
    const f: ResponseFacts = {};
    if (this.id) f.id = this.id;
    if (this.model) f.responseModel = this.model;
    if (this.started) f.usage = usageFromAnthropic(this.counters);
    if (this.finish) f.finishReasons = [this.finish];
    if (this.text) f.outputText = this.text;
    if (this.calls.length > 0) f.toolCalls = this.calls.map((c) => ({ ...c }));
    return f;
  }

  push(ev: SseEvent): string[] {
    const data = parseObject(ev.data);
    const type = str(data?.type) ?? ev.event;
    if (!data) return type === 'error' ? this.fail(ev.data) : [];
    switch (type) {
      case 'message_start':
        return this.onStart(data);
      case 'content_block_start':
        return this.onBlockStart(data);
      case 'content_block_delta':
        return this.onBlockDelta(data);
      case 'message_delta':
        return this.onMessageDelta(data);
      case 'message_stop':
        return this.onStop();
      case 'error':
        return this.fail(ev.data);
      default:
        return []; // ping, content_block_stop, anything newer
    }
  }

  end(): string[] {
    if (this.finished || this.streamError) return [];
    this.streamError = openaiError(502, 'the upstream stream ended before the answer was complete', {
      type: 'upstream_error',
      code: 'incomplete_stream',
    });
    return [sseFrame(JSON.stringify(this.streamError.body))];
  }

  private chunk(choices: Json[], usage?: Json): string {
    const c: Json = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
    if (usage) c.usage = usage;
    else if (this.clientWantsUsage) c.usage = null;
    return sseFrame(JSON.stringify(c));
  }

  private delta(delta: Json): string {
    return this.chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]);
  }

  private content(text: string): string[] {
    if (!text) return [];
    this.text = keepOutput(this.text, text);
    this.firstContentSeen = true;
    return [this.delta({ content: text })];
  }

  private onStart(data: Json): string[] {
    const msg = isObject(data.message) ? data.message : {};
    this.id = str(msg.id) ?? this.id;
    this.model = str(msg.model) ?? this.model;
    this.counters = mergeAnthropicCounters(this.counters, msg.usage);
    this.started = true;
    return [this.delta({ role: 'assistant', content: '', refusal: null })];
  }

  private onBlockStart(data: Json): string[] {
    const block = isObject(data.content_block) ? data.content_block : {};
    const index = typeof data.index === 'number' ? data.index : this.blocks.size;
    if (block.type === 'text') {
      this.blocks.set(index, { kind: 'text' });
      return this.content(str(block.text) ?? '');
    }
    if (block.type !== 'tool_use') {
      this.blocks.set(index, { kind: 'other' });
      return [];
    }
    if (this.forcedName !== undefined && block.name === this.forcedName) {
      this.blocks.set(index, { kind: 'json' });
      return [];
    }
    const toolIndex = this.calls.length;
    const call = { id: str(block.id) ?? '', name: str(block.name) ?? '', arguments: '' };
    this.calls.push(call);
    this.blocks.set(index, { kind: 'tool', toolIndex });
    this.firstContentSeen = true;
    return [this.delta({ tool_calls: [{ index: toolIndex, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] })];
  }

  private onBlockDelta(data: Json): string[] {
    const delta = isObject(data.delta) ? data.delta : {};
    const block = this.blocks.get(typeof data.index === 'number' ? data.index : -1);
    if (delta.type === 'text_delta') return this.content(str(delta.text) ?? '');
    if (delta.type !== 'input_json_delta' || !block) return [];
    const partial = str(delta.partial_json) ?? '';
    if (block.kind === 'json') return this.content(partial);
    if (block.kind !== 'tool' || !partial) return [];
    this.calls[block.toolIndex].arguments = keepOutput(this.calls[block.toolIndex].arguments, partial);
    return [this.delta({ tool_calls: [{ index: block.toolIndex, function: { arguments: partial } }] })];
  }

  private onMessageDelta(data: Json): string[] {
    this.counters = mergeAnthropicCounters(this.counters, data.usage);
    const d = isObject(data.delta) ? data.delta : {};
    if (d.stop_reason === undefined || d.stop_reason === null) return [];
    this.finish = finishReasonOf(d.stop_reason, this.forcedName !== undefined);
    return [this.chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: this.finish }])];
  }

  private onStop(): string[] {
    this.finished = true;
    const frames: string[] = [];
    if (this.clientWantsUsage) frames.push(this.chunk([], openAIUsageOf(usageFromAnthropic(this.counters))));
    frames.push(SSE_DONE_FRAME);
    return frames;
  }

  private fail(data: string): string[] {
    this.streamError = anthropicStreamError(data);
    return [sseFrame(JSON.stringify(this.streamError.body))];
  }
}
