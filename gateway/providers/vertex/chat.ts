/**
 * Vertex AI serves Google's and Anthropic's models behind one backend: a request goes to the
 * model's publisher (options.ts `publisherOf`), with the Gemini or the Anthropic translation. An
 * answer says which it is (an Anthropic `message`, or a `GenerateContentResponse`), and so does
 * a stream's first event (Anthropic's are named and typed): the answer is read by the translator
 * of its kind. The two shapes share no marker, so this cannot take one for the other.
 */
import { answerObject, parseObject } from '../shared/helpers.js';
import type { ClientError, ResponseContext, ResponseFacts, SseEvent, StreamTranslator, Translator } from '../types.js';
import { anthropicError, invalidParam } from '../shared/errors.js';
import { geminiError } from '../gemini/errors.js';
import { publisherOf } from './options.js';

const isAnthropicAnswer = (v: Record<string, unknown> | undefined) => v?.type === 'message';
const isAnthropicEvent = (ev: SseEvent) => ev.event !== undefined || typeof parseObject(ev.data)?.type === 'string';

/** Decides on its first event which stream translator reads the stream. */
class SniffingStream implements StreamTranslator {
  private inner: StreamTranslator | undefined;

  constructor(
    private readonly ctx: ResponseContext,
    private readonly google: Translator,
    private readonly anthropic: Translator,
  ) {}

  private chosen(ev?: SseEvent): StreamTranslator {
    this.inner ??= (ev && isAnthropicEvent(ev) ? this.anthropic : this.google).stream(this.ctx);
    return this.inner;
  }

  push(ev: SseEvent): string[] {
    return this.chosen(ev).push(ev);
  }

  end(): string[] {
    return this.chosen().end();
  }

  get facts(): ResponseFacts {
    return this.inner?.facts ?? {};
  }

  get firstContentSeen(): boolean {
    return this.inner?.firstContentSeen ?? false;
  }

  get streamError(): ClientError | undefined {
    return this.inner?.streamError;
  }
}

/** One endpoint's translator over both publishers. */
export function byPublisher(google: Translator, anthropic: Translator): Translator {
  return {
    endpoint: google.endpoint,
    clientApi: google.clientApi,
    backendKind: 'vertex',
    request: (body, target, opts) => (publisherOf(target) === 'anthropic' ? anthropic : google).request(body, target, opts),
    response: (status, bodyText, ctx) => (isAnthropicAnswer(answerObject(bodyText, ctx)) ? anthropic : google).response(status, bodyText, ctx),
    stream: (ctx) => new SniffingStream(ctx, google, anthropic),
  };
}

/** A 400 about the model in the envelope of the client's API. */
function wrongPublisher(t: Translator, message: string): ClientError {
  if (t.clientApi === 'anthropic') return anthropicError(400, `model: ${message}`);
  if (t.clientApi === 'gemini') return geminiError(400, message);
  return invalidParam('model', message);
}

/** A translator for one publisher's models only; the other's get a 400 naming the endpoint. */
export function onlyFor(publisher: 'google' | 'anthropic', t: Translator, what: string): Translator {
  return {
    ...t,
    request: (body, target, opts) =>
      publisherOf(target) === publisher ? t.request(body, target, opts) : { ok: false, error: wrongPublisher(t, `${what} is served on vertex backends for ${publisher} models only`) },
  };
}
