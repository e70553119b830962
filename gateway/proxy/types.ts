import type { RuleConfig } from '../config/model.js';
import type { Identity } from '../policy/identity.js';
import type { AbortLike } from './abort.js';
import type { RequestHeaders } from '../routing/match.js';
import type { ClientError, Endpoint, ResponseFacts } from '../providers/types.js';

export type Json = Record<string, unknown>;

/** One call as the proxy runs it. */
export interface CallInput {
  endpoint: Endpoint;
  clientBody: Json;
  /** The JSON text `clientBody` was parsed from. */
  rawBody?: string;
  /** `rawBody`'s bytes as received, kept for large bodies (sent as they are when passed through). */
  rawBytes?: Buffer;
  clientHeaders: RequestHeaders;
  rule: RuleConfig;
  /** The model requested, after an alias. */
  model: string;
  stream: boolean;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** Aborts when the client goes away. */
  clientGone: AbortLike;
  /** Who is calling (the request's ApiKey, gateway/policy/authenticate.ts); none with the master key or authentication off. */
  identity?: Identity;
}

/** Where a streamed answer goes. Nothing is written before the first frame: until then a retry is still possible. */
export interface StreamSink {
  readonly started: boolean;
  /** Writes status and SSE headers; called once, right before the first frame. */
  start(): void;
  /** Resolves when the frames are flushed (backpressure) or the client is gone. */
  write(frames: string[]): Promise<void> | undefined;
  end(): void;
  /**
   * Asked after each upstream event once the answer has started: an error here cuts the stream
   * with it as the final event (a budget reservation the answer ran past, gateway/policy).
   */
  cut?(facts: ResponseFacts): ClientError | undefined;
}

/** Which upstream served, and how the gateway got there. */
export interface CallPath {
  backend?: string;
  /** Model name sent upstream. */
  model?: string;
  attempts: number;
  fallbackUsed: boolean;
  /** Backends passed over because their circuit was open or they are disabled. */
  skipped: string[];
}

/** Why an attempt failed, for error.type and the attempts metric. */
export type FailureCause = 'status' | 'timeout' | 'network' | 'bad_response' | 'client_gone' | 'rejected' | 'unsupported';

/** What one attempt, and so the call, came to. */
export type CallResult =
  | {
      ok: true;
      kind: 'json';
      status: number;
      body: string;
      /** `body`'s bytes as the upstream sent them, when it passes through unchanged (a large answer): written as they are. */
      bytes?: Buffer;
      facts: ResponseFacts;
    }
  | { ok: true; kind: 'stream'; facts: ResponseFacts; ttftMs?: number; cutShort?: ClientError }
  | {
      ok: false;
      error: ClientError;
      cause: FailureCause;
      status?: number;
      /**
       * The gateway refused this backend's answer (past a limit, gateway/proxy/limits.ts): not
       * retried on the same backend, the next candidate may serve, and if none does the client
       * hears this error as it is.
       */
      refused?: true;
    };

/** Kept as two objects: spreading one into the other showed in profiles. */
export interface CallOutcome {
  result: CallResult;
  path: CallPath;
}
