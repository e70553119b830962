/**
 * Bedrock's streams (decoded by eventstream.ts) → the Anthropic translators' streams, reused.
 *
 * InvokeModelWithResponseStream (Claude): each `chunk` event's payload is `{bytes}`, the base64 of
 * one Anthropic Messages stream event; decoded, it goes to the Anthropic stream translator as it
 * is (for an OpenAI client the chat translation, for a Messages client the passthrough, which
 * writes it as `event: <type>` + `data:` exactly as Anthropic's own API would).
 *
 * ConverseStream: its events carry the same facts as Anthropic's under other names, so they are
 * renamed, one for one, and the Anthropic chat translator writes the OpenAI chunks:
 *
 *   messageStart                         → message_start (id from the time, the client's model)
 *   contentBlockStart {start.toolUse}    → content_block_start tool_use {id, name}
 *   contentBlockDelta {delta.text}       → content_block_delta text_delta
 *   contentBlockDelta {delta.toolUse}    → content_block_delta input_json_delta
 *   contentBlockDelta {reasoningContent} → content_block_delta thinking_delta (dropped, as thinking is)
 *   contentBlockStop                     → content_block_stop
 *   messageStop {stopReason}             → message_delta {stop_reason}: the finish chunk
 *                                          (guardrail_intervened / content_filtered → refusal → content_filter)
 *   metadata {usage}                     → message_delta {usage} + message_stop: the usage chunk, [DONE]
 *
 * A stream that ends after messageStop without metadata is complete (the answer is whole; only
 * usage is missing: no usage chunk, no usage fact, the gateway estimates). An `exception` message (throttlingException, modelStreamErrorException, …)
 * becomes an error frame in the client's API, mapped by errors.ts, and ends the client's stream.
 */
import { SSE_DONE_FRAME, sseFrame } from '../../sse.js';
import { isObject, num, parseObject, str } from '../shared/helpers.js';
import type { ClientApi, ClientError, ResponseContext, ResponseFacts, SseEvent, StreamTranslator } from '../types.js';
import { converseId } from './chat/openai_bedrock_converse.js';
import { fromBedrockStreamException } from './errors.js';
import { EXCEPTION_PREFIX } from './eventstream.js';

type Json = Record<string, unknown>;

const anthropicEvent = (type: string, data: Json): SseEvent => ({ event: type, data: JSON.stringify({ type, ...data }) });

/** Converse stop reasons Anthropic's vocabulary lacks, in the Anthropic word with the same OpenAI meaning. */
const STOP_AS_ANTHROPIC: Record<string, string> = { guardrail_intervened: 'refusal', content_filtered: 'refusal' };

/** The base64 `bytes` of an InvokeModel stream `chunk` → the Anthropic event it holds. */
export function invokeChunkEvent(data: string): SseEvent | undefined {
  const payload = parseObject(data);
  const b64 = str(payload?.bytes);
  if (b64 === undefined) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const type = str(parseObject(text)?.type);
  return type ? { event: type, data: text } : { data: text };
}

/** ConverseStream events → Anthropic Messages stream events, with the little state renaming needs. */
export class ConverseRenamer {
  /** messageStop came: the answer is whole. */
  stopped = false;
  /** metadata came: usage is known, and the Anthropic stream was told message_stop. */
  completed = false;

  constructor(
    private readonly id: string,
    private readonly model: string,
  ) {}

  rename(ev: SseEvent): SseEvent[] {
    const d = parseObject(ev.data) ?? {};
    const index = num(d.contentBlockIndex) ?? 0;
    switch (ev.event) {
      case 'messageStart':
        return [anthropicEvent('message_start', { message: { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], usage: {} } })];
      case 'contentBlockStart': {
        const tu = isObject(d.start) && isObject(d.start.toolUse) ? d.start.toolUse : undefined;
        const block = tu ? { type: 'tool_use', id: str(tu.toolUseId) ?? '', name: str(tu.name) ?? '', input: {} } : { type: 'text', text: '' };
        return [anthropicEvent('content_block_start', { index, content_block: block })];
      }
      case 'contentBlockDelta':
        return this.delta(index, isObject(d.delta) ? d.delta : {});
      case 'contentBlockStop':
        return [anthropicEvent('content_block_stop', { index })];
      case 'messageStop': {
        this.stopped = true;
        const r = str(d.stopReason) ?? 'end_turn';
        return [anthropicEvent('message_delta', { delta: { stop_reason: STOP_AS_ANTHROPIC[r] ?? r, stop_sequence: null } })];
      }
      case 'metadata':
        this.completed = true;
        return [anthropicEvent('message_delta', { delta: { stop_reason: null }, usage: anthropicUsage(d.usage) }), anthropicEvent('message_stop', {})];
      default:
        return [];
    }
  }

  private delta(index: number, delta: Json): SseEvent[] {
    if (typeof delta.text === 'string') return [anthropicEvent('content_block_delta', { index, delta: { type: 'text_delta', text: delta.text } })];
    if (isObject(delta.toolUse)) return [anthropicEvent('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: str(delta.toolUse.input) ?? '' } })];
    if (isObject(delta.reasoningContent)) return [anthropicEvent('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: str(delta.reasoningContent.text) ?? '' } })];
    return [];
  }
}

/** Converse usage counters under Anthropic's names (both count fresh input apart from cache reads and writes). */
function anthropicUsage(raw: unknown): Json {
  const u = isObject(raw) ? raw : {};
  const out: Json = { input_tokens: num(u.inputTokens) ?? 0, output_tokens: num(u.outputTokens) ?? 0 };
  if (num(u.cacheReadInputTokens) !== undefined) out.cache_read_input_tokens = u.cacheReadInputTokens;
  if (num(u.cacheWriteInputTokens) !== undefined) out.cache_creation_input_tokens = u.cacheWriteInputTokens;
  return out;
}

/**
 * One Bedrock stream for one client. `inner` is the Anthropic stream translator for the client's
 * API. Each event says which API sent it: InvokeModel sends only `chunk` events, ConverseStream
 * never does.
 */
export class BedrockStream implements StreamTranslator {
  private error?: ClientError;
  private readonly renamer: ConverseRenamer;
  private converse = false;

  constructor(
    private readonly inner: StreamTranslator,
    private readonly api: ClientApi,
    ctx: ResponseContext,
  ) {
    this.renamer = new ConverseRenamer(converseId(ctx.nowMs), str(ctx.clientBody.model) ?? '');
  }

  get facts(): ResponseFacts {
    const f = this.inner.facts;
    // Converse names neither: what the renamer made up is not a fact about the answer. Usage is
    // known only from metadata: without it the gateway estimates rather than report zeros.
    if (this.converse) {
      delete f.id;
      delete f.responseModel;
      if (!this.renamer.completed) delete f.usage;
    }
    return f;
  }

  get firstContentSeen(): boolean {
    return this.inner.firstContentSeen;
  }

  get streamError(): ClientError | undefined {
    return this.error ?? this.inner.streamError;
  }

  push(ev: SseEvent): string[] {
    if (this.error) return [];
    if (ev.event?.startsWith(EXCEPTION_PREFIX)) return this.fail(ev.event.slice(EXCEPTION_PREFIX.length), ev.data);
    let events: SseEvent[];
    if (ev.event === 'chunk') {
      const inner = invokeChunkEvent(ev.data);
      events = inner ? [inner] : [];
    } else {
      if (ev.event === 'messageStart') this.converse = true;
      events = this.renamer.rename(ev);
    }
    return events.flatMap((e) => this.inner.push(e));
  }

  end(): string[] {
    if (this.error) return [];
    // Stopped without metadata: the answer is whole but its usage unknown, so no usage chunk.
    if (this.renamer.stopped && !this.renamer.completed) return [SSE_DONE_FRAME];
    return this.inner.end();
  }

  private fail(type: string, data: string): string[] {
    this.error = fromBedrockStreamException(this.api, type, data);
    const body = JSON.stringify(this.error.body);
    return [this.api === 'anthropic' ? sseFrame(body, 'error') : sseFrame(body)];
  }
}
