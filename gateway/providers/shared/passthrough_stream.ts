/**
 * A stream whose events go to the client as they came, with facts read by a per-API `observe`
 * function. Used by the Responses and Messages passthroughs (and by endpoints that never stream,
 * so every translator has a `stream()`).
 */
import { sseFrameOf } from '../../sse.js';
import type { ClientError, ResponseFacts, SseEvent, StreamTranslator, ToolCallOut } from '../types.js';

/** What an observer updates for one event. Return true when the event carried output. */
export interface StreamState {
  facts: ResponseFacts;
  text: string;
  calls: ToolCallOut[];
  error?: ClientError;
}

export type Observer = (data: Record<string, unknown> | undefined, ev: SseEvent, state: StreamState) => boolean;

export class PassthroughStream implements StreamTranslator {
  firstContentSeen = false;
  private readonly state: StreamState = { facts: {}, text: '', calls: [] };

  constructor(
    private readonly observe: Observer,
    private readonly parse: (text: string) => Record<string, unknown> | undefined,
  ) {}

  get facts(): ResponseFacts {
    const f: ResponseFacts = { ...this.state.facts };
    if (this.state.text) f.outputText = this.state.text;
    if (this.state.calls.length > 0) f.toolCalls = this.state.calls.map((c) => ({ ...c }));
    return f;
  }

  get streamError(): ClientError | undefined {
    return this.state.error;
  }

  push(ev: SseEvent): string[] {
    if (this.observe(this.parse(ev.data), ev, this.state)) this.firstContentSeen = true;
    return [sseFrameOf(ev)];
  }

  end(): string[] {
    return [];
  }
}

/** For endpoints that do not stream: frames pass, nothing is read. */
export const observeNothing: Observer = () => false;
