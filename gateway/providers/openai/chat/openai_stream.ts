/**
 * State of one OpenAI Chat Completions stream passed through to an OpenAI client (OpenAI and
 * every OpenAI-compatible server, Azure included). Frames go out as the upstream sent them;
 * the only change: the usage-only chunk (`choices: []` with `usage`) is swallowed when the
 * gateway forced `stream_options.include_usage` and the client did not ask for it. Azure's
 * first chunk also has `choices: []` (content-filter results, no usage) and is kept.
 */
import { SSE_DONE_FRAME, sseFrameOf } from '../../../sse.js';
import { fromOpenAIUpstream } from '../errors.js';
import { isObject, keepOutput, parseObject, str } from '../../shared/helpers.js';
import type { ClientError, ResponseContext, ResponseFacts, SseEvent, StreamTranslator, ToolCallOut } from '../../types.js';
import { usageFromOpenAI } from '../../shared/usage.js';

/** Whether the client itself asked for the usage chunk. */
export function clientWantsStreamUsage(body: Record<string, unknown>): boolean {
  return isObject(body.stream_options) && body.stream_options.include_usage === true;
}

/** Accumulates choice 0's text and tool calls, by index, as deltas arrive. */
export class ChatOutput {
  text = '';
  private readonly calls: ToolCallOut[] = [];

  addDelta(delta: Record<string, unknown>): boolean {
    let content = false;
    const text = str(delta.content) ?? str(delta.refusal);
    if (text) {
      this.text = keepOutput(this.text, text);
      content = true;
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) if (isObject(tc) && this.addToolDelta(tc)) content = true;
    }
    return content;
  }

  private addToolDelta(tc: Record<string, unknown>): boolean {
    const index = typeof tc.index === 'number' ? tc.index : this.calls.length;
    const call = (this.calls[index] ??= { id: '', name: '', arguments: '' });
    const fn = isObject(tc.function) ? tc.function : {};
    if (str(tc.id)) call.id = tc.id as string;
    if (str(fn.name)) call.name += fn.name as string;
    if (str(fn.arguments)) call.arguments = keepOutput(call.arguments, fn.arguments as string);
    return true;
  }

  toolCalls(): ToolCallOut[] | undefined {
    const calls = this.calls.filter(Boolean);
    return calls.length > 0 ? calls : undefined;
  }
}

export class OpenAIChatStream implements StreamTranslator {
  firstContentSeen = false;
  streamError?: ClientError;
  private readonly base: ResponseFacts = {};
  private readonly out = new ChatOutput();
  private readonly finish: string[] = [];
  private readonly clientWantsUsage: boolean;

  constructor(ctx: ResponseContext) {
    this.clientWantsUsage = clientWantsStreamUsage(ctx.clientBody);
  }

  get facts(): ResponseFacts {
    const f: ResponseFacts = { ...this.base };
    const finish = this.finish.filter(Boolean);
    if (finish.length > 0) f.finishReasons = finish;
    if (this.out.text) f.outputText = this.out.text;
    const calls = this.out.toolCalls();
    if (calls) f.toolCalls = calls;
    return f;
  }

  push(ev: SseEvent): string[] {
    if (ev.data === '[DONE]') return [SSE_DONE_FRAME];
    const chunk = parseObject(ev.data);
    if (!chunk) return [sseFrameOf(ev)];
    if (chunk.error !== undefined && chunk.error !== null) {
      this.streamError = fromOpenAIUpstream(500, ev.data);
      return [sseFrameOf(ev)];
    }
    this.noteChunk(chunk);
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (choices.length === 0 && isObject(chunk.usage) && !this.clientWantsUsage) return [];
    return [sseFrameOf(ev)];
  }

  end(): string[] {
    return [];
  }

  private noteChunk(chunk: Record<string, unknown>): void {
    if (this.base.id === undefined && str(chunk.id)) this.base.id = chunk.id as string;
    if (this.base.responseModel === undefined && str(chunk.model)) this.base.responseModel = chunk.model as string;
    const usage = usageFromOpenAI(chunk.usage);
    if (usage) this.base.usage = usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (!isObject(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      if (str(choice.finish_reason)) this.finish[index] = choice.finish_reason as string;
      if (!isObject(choice.delta)) continue;
      // Only choice 0 is kept for telemetry; any choice's output counts as first content.
      const content = index === 0 ? this.out.addDelta(choice.delta) : hasOutput(choice.delta);
      if (content) this.firstContentSeen = true;
    }
  }
}

function hasOutput(delta: Record<string, unknown>): boolean {
  return Boolean(str(delta.content) || str(delta.refusal) || (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0));
}
